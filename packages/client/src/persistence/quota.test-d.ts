import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { type ClientStorageInfo, createClient, type QuotaEstimate } from "../index.js";

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
const client = createClient({ schema, storage: "indexeddb" });

describe("client.storage quota types", () => {
  it("reads an estimate of usage, quota and their ratio", () => {
    expectTypeOf(client.storage).toEqualTypeOf<ClientStorageInfo>();
    expectTypeOf(client.storage.estimate()).toEqualTypeOf<Promise<QuotaEstimate | undefined>>();
    expectTypeOf<QuotaEstimate>().toEqualTypeOf<{
      readonly usage: number;
      readonly quota: number;
      readonly ratio: number;
    }>();
  });

  it("subscribes to quota warnings and returns an unsubscribe", () => {
    expectTypeOf(client.storage.onQuota).parameter(0).toEqualTypeOf<(estimate: QuotaEstimate) => void>();
    expectTypeOf(client.storage.onQuota(() => {})).toEqualTypeOf<() => void>();
    // @ts-expect-error a listener gets the estimate, not a string
    client.storage.onQuota((reason: string) => reason);
    // @ts-expect-error the estimate is read-only
    client.storage.estimate().then((estimate) => (estimate!.ratio = 1));
  });
});
