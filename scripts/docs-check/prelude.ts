// What the code samples in docs/ may use without declaring it: the schema the guides describe,
// a client of it, and the app's own UI functions. scripts/check-docs.mjs imports from here the
// names a sample uses but does not declare itself, then type-checks the sample.
import { createSchema, t } from "@trellis/core";
import { createClient } from "@trellis/client";

export { createClient, createSchema, t };

export const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
    },
    posts: {
      title: t.string({ fallback: "" }),
      published: t.boolean({ fallback: false }),
      publishedAt: t.date({ fallback: "now" }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
      tag: t.string({ optional: true }),
      viewCount: t.number({ fallback: 0 }),
      rating: t.number({ optional: true }),
    },
    tags: { name: t.string({ fallback: "" }) },
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      dueAt: t.date({ optional: true }),
    },
  },
  rooms: {
    board: { userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) } },
    documentEditor: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: {
        cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }),
        isTyping: t.boolean({ fallback: false }),
        selection: t.array(t.string({ fallback: "" })),
      },
      roomStatus: { documentTitle: t.string({ optional: true }), collaboratorCount: t.number({ fallback: 0 }) },
    },
  },
});

export const client = createClient({ schema, serverUrl: "http://127.0.0.1:8787", userId: "alice" });
/** A second client, as a browser would hold it next to a server-side one. */
export const browser = client;
export const token = "a JWT";

// The app's own UI.
export declare function render(...values: unknown[]): void;
export declare function showSpinner(): void;
export declare function renderTitle(title: string | undefined): void;
export declare function renderBadge(state: string): void;
export declare function renderCursors(statuses: unknown): void;
export declare function showToast(message: string): void;
export declare const banner: { show(message: string): void };
export declare const badge: { textContent: string };
export declare const nextButton: { disabled: boolean };
export declare const previousButton: { disabled: boolean };
