import { createSchema, type DatabaseError, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient, type WriteError } from "../index.js";

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });
const client = createClient({ schema, serverUrl: "http://127.0.0.1:8787", userId: "ada" });

describe("client.onWriteError types", () => {
  it("hears each refused change and returns an unsubscribe", () => {
    expectTypeOf(client.onWriteError).parameter(0).toEqualTypeOf<(change: WriteError) => void>();
    expectTypeOf(client.onWriteError(() => {})).toEqualTypeOf<() => void>();
    client.onWriteError((change) => {
      expectTypeOf(change.error).toEqualTypeOf<DatabaseError>();
      expectTypeOf(change.operation).toEqualTypeOf<"create" | "update" | "delete">();
      expectTypeOf(change.collection).toEqualTypeOf<string>();
      expectTypeOf(change.id).toEqualTypeOf<string>();
      expectTypeOf(change.fields).toEqualTypeOf<readonly string[]>();
    });
  });
});
