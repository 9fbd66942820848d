/** Realistic protocol frames for the parse benchmark, generated from one seed. */
import { encodeHlc, helloMessage } from "@trellis/core";
import { createRandom } from "../data.js";

/** One frame to parse, and which side parses it. */
export interface BenchFrame {
  readonly name: string;
  /** "client": a client's frame, parsed by the server (as the bytes `ws` hands over); "server": the reverse (as text). */
  readonly side: "client" | "server";
  readonly text: string;
}

const TAGS = ["work", "home", "errands", "ideas", "later"];

/** The triples of `documents` todos as a client pushes them or a server sends them: 6 fields each. */
function todoTriples(documents: number, next: () => number, node: string): unknown[] {
  const triples: unknown[] = [];
  let ticks = 1_800_000_000_000 * 1024;
  for (let i = 0; i < documents; i++) {
    const id = `todo${i.toString(36).padStart(17, "0")}`;
    const stamp = () => encodeHlc({ ticks: (ticks += 1 + Math.floor(next() * 10)), node });
    const fields: Record<string, unknown> = {
      title: `todo ${i} ${"x".repeat(Math.floor(next() * 40))}`,
      done: next() < 0.5,
      priority: Math.floor(next() * 10),
      tag: TAGS[Math.floor(next() * TAGS.length)],
      createdAt: 1_800_000_000_000 + i,
      meta: { estimate: Math.floor(next() * 8), labels: ["a", "b"] },
    };
    for (const [field, value] of Object.entries(fields))
      triples.push({ collection: "todos", id, field, value, hlc: stamp() });
  }
  return triples;
}

const specs = {
  id: { type: "string", optional: false },
  title: { type: "string", optional: false, fallback: "" },
  done: { type: "boolean", optional: false, fallback: false },
  priority: { type: "number", optional: true },
  tag: { type: "string", optional: false, fallback: "" },
  createdAt: { type: "date", optional: true },
  ownerId: { type: "ref", optional: true, target: "users" },
};

/** A subscribe as `normalizeQuery` sends it: filters with `or`, `not` and a relational filter, a sort, a relation, a cursor. */
function subscribeFrame(): unknown {
  return {
    type: "subscribe",
    queryId: "q_todos_open",
    cursor: "c1-000001a2b3",
    query: {
      collection: "todos",
      select: ["id", "title", "done", "priority", "tag", "createdAt", "ownerId"],
      where: [
        { field: "done", op: "equals", operand: false },
        { field: "priority", op: "greaterThanOrEqual", operand: 3 },
        {
          or: [
            [{ field: "tag", op: "in", operand: ["work", "errands"] }],
            [{ field: "title", op: "contains", operand: "urgent" }],
          ],
        },
        { not: [{ field: "tag", op: "equals", operand: "later" }] },
        {
          related: {
            direction: "forward",
            link: "ownerId",
            linkSpec: specs.ownerId,
            collection: "users",
            where: [{ field: "isActive", op: "equals", operand: true }],
            specs: { isActive: { type: "boolean", optional: false, fallback: false } },
          },
        },
      ],
      orderBy: [
        ["createdAt", "desc"],
        ["id", "asc"],
      ],
      limit: 50,
      specs,
      relations: [
        {
          name: "owner",
          cardinality: "one",
          direction: "forward",
          link: "ownerId",
          linkSpec: specs.ownerId,
          query: {
            collection: "users",
            select: ["id", "name"],
            where: [],
            orderBy: [["id", "asc"]],
            limit: undefined,
            specs: { id: specs.id, name: { type: "string", optional: false, fallback: "" } },
          },
        },
      ],
      after: { keys: [1_800_000_000_500], id: "todo00000000000000000dh" },
    },
  };
}

/**
 * The frames of the benchmark: the small control messages every connection sends, a subscribe
 * with filters, pushes and server batches of many triples, and a room's state.
 *
 * @example
 * for (const frame of benchFrames(1)) console.log(frame.name, frame.text.length);
 */
export function benchFrames(seed: number): BenchFrame[] {
  const next = createRandom(seed);
  const hlcOf = (ticks: number) => encodeHlc({ ticks, node: "server" });
  const users: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++)
    users[`user-${i}`] = { name: `User ${i}`, cursor: { x: Math.floor(next() * 1000), y: 40 }, isTyping: next() < 0.1 };
  const frames: Array<{ name: string; side: "client" | "server"; value: unknown }> = [
    {
      name: "hello",
      side: "client",
      value: helloMessage({ appId: "todos", clientId: "c_8f3k2j1h0g", token: "x".repeat(400) }),
    },
    { name: "subscribe (filters, relation)", side: "client", value: subscribeFrame() },
    {
      name: "push 10 triples",
      side: "client",
      value: { type: "push", batchId: "b1", triples: todoTriples(2, next, "client").slice(0, 10) },
    },
    {
      name: "push 3,000 triples",
      side: "client",
      value: { type: "push", batchId: "b2", triples: todoTriples(500, next, "client") },
    },
    {
      name: "setUserStatus",
      side: "client",
      value: { type: "setUserStatus", roomType: "editor", roomId: "doc-1", status: { cursor: { x: 10, y: 20 } } },
    },
    {
      name: "welcome",
      side: "server",
      value: { type: "welcome", serverHlc: hlcOf(1_800_000_000_000 * 1024), userId: "user-1" },
    },
    { name: "ack", side: "server", value: { type: "ack", batchId: "b1", cursor: "c1-000001a2b3" } },
    {
      name: "changes 60 triples",
      side: "server",
      value: { type: "changes", triples: todoTriples(10, next, "server"), cursor: "c1-000001a2b4" },
    },
    {
      name: "snapshot 12,000 triples",
      side: "server",
      value: {
        type: "snapshot",
        queryId: "q_todos_open",
        triples: todoTriples(2_000, next, "server"),
        cursor: "c1-000001a2b5",
        revoked: [{ collection: "todos", id: "todo-gone" }],
      },
    },
    {
      name: "roomState 200 users",
      side: "server",
      value: { type: "roomState", roomType: "editor", roomId: "doc-1", roomStatus: { title: "Plan" }, users },
    },
  ];
  return frames.map(({ name, side, value }) => ({ name, side, text: JSON.stringify(value) }));
}
