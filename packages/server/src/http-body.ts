import type { IncomingMessage } from "node:http";
import { type DatabaseResult, fail, jsonShapeProblem, ok } from "@trellis/core";
import type { BodyBudget } from "./body-budget.js";

/** A JSON object with only the given keys (others are refused, as in frames); any keys with `allowed` undefined. */
export function jsonObject(
  body: string,
  allowed: readonly string[] | undefined,
): DatabaseResult<Record<string, unknown>> {
  const problem = jsonShapeProblem(body);
  if (problem !== undefined) return fail("PROTOCOL", `The request body ${problem}.`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return fail("PROTOCOL", "The request body is not JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail("PROTOCOL", "The request body must be a JSON object.");
  const unknown = allowed === undefined ? undefined : Object.keys(value).find((key) => !allowed.includes(key));
  if (unknown !== undefined)
    return fail(
      "PROTOCOL",
      `Unknown key ${JSON.stringify(unknown)} in the request body (expected ${allowed!.join(", ")}).`,
    );
  return ok(value as Record<string, unknown>);
}

/**
 * The body of a request, refused (413) past `maxBytes` as announced by `content-length` or as
 * received, and (503) when the server is already receiving `bodies.limit` bytes of bodies.
 */
export function readBody(
  request: IncomingMessage,
  maxBytes: number,
  bodies: BodyBudget,
  hint = "",
): Promise<DatabaseResult<string> & { readonly status?: number }> {
  const announced = Number(request.headers["content-length"] ?? Number.NaN);
  const tooLarge = () => ({
    ...fail("PROTOCOL", `The request body is larger than ${maxBytes} bytes.${hint}`, { limit: maxBytes }),
    status: 413,
  });
  if (announced > maxBytes) return Promise.resolve(tooLarge());
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let isDone = false;
    const finish = (result: DatabaseResult<string> & { readonly status?: number }) => {
      if (isDone) return;
      isDone = true;
      bodies.release(size);
      request.off("data", collect);
      resolve(result);
    };
    const collect = (chunk: Buffer) => {
      if (size + chunk.length > maxBytes) return finish(tooLarge());
      if (!bodies.take(chunk.length)) {
        return finish(
          fail("NETWORK", "The server is receiving too many request bodies at once; try again shortly.", {
            limit: bodies.limit,
          }),
        );
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    request.on("data", collect);
    request.on("end", () => finish(ok(Buffer.concat(chunks).toString("utf8"))));
    request.on("error", (error) => finish(fail("NETWORK", `The request failed: ${error.message}`)));
    request.on("close", () => finish(fail("NETWORK", "The request was cut off before its body ended.")));
  });
}

/** A request header's value; undefined when absent, empty or repeated. */
export function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** An answer, and for an error the HTTP status when it is not the one its code implies. */
export type HttpAnswer = DatabaseResult<unknown> & { readonly status?: number };
