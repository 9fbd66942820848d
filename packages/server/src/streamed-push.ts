import type { IncomingMessage } from "node:http";
import { type DatabaseResult, fail, jsonShapeProblem, ok, parseTriple, type Triple } from "@trellis/core";
import type { BodyBudget } from "./body-budget.js";

/** The content type of a push streamed as lines: the envelope, then one triple per line. */
export const NDJSON_PUSH = "application/x-ndjson";

/** A streamed push, read and checked. */
export interface StreamedPush {
  /** The first line: `{ appId, clientId, batchId }` (checked by the caller). */
  readonly envelope: Readonly<Record<string, unknown>>;
  readonly triples: Triple[];
}

/** What bounds reading a streamed push. */
export interface StreamLimits {
  /** The whole body. */
  readonly maxBytes: number;
  /** One line (the envelope or a triple): the frame limit. */
  readonly maxLineBytes: number;
  readonly bodies: BodyBudget;
}

/**
 * Reads a push sent as newline-delimited JSON (`content-type: application/x-ndjson`): the first
 * line `{ appId, clientId, batchId }`, then one triple per line. Each chunk is parsed and checked
 * as it arrives, line by line, so a push of half a million triples never becomes one 50 MB string
 * or one long `JSON.parse`, and the event loop serves everyone else between chunks. A malformed
 * line stops the reading with a PROTOCOL error naming it.
 *
 * @example
 * const limits = { maxBytes: 50 * 1024 * 1024, maxLineBytes: DEFAULT_MAX_FRAME_BYTES, bodies };
 * const pushed = await readStreamedPush(request, limits);
 * if (pushed.error) return pushed; // PROTOCOL or VALIDATION, with an HTTP `status`
 * const { envelope, triples } = pushed.data;
 */
export function readStreamedPush(
  request: IncomingMessage,
  limits: StreamLimits,
): Promise<DatabaseResult<StreamedPush> & { readonly status?: number }> {
  return new Promise((resolve) => {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const triples: Triple[] = [];
    let envelope: Record<string, unknown> | undefined;
    let pending = "";
    let received = 0;
    let isDone = false;
    const finish = (result: DatabaseResult<StreamedPush> & { readonly status?: number }) => {
      if (isDone) return;
      isDone = true;
      limits.bodies.release(received);
      request.off("data", collect);
      resolve(result);
    };
    /** Takes one complete line; false once the push is refused. */
    const take = (line: string): boolean => {
      if (line.trim() === "") return true;
      const which =
        envelope === undefined ? "the first line" : `line ${triples.length + 2} (triples[${triples.length}])`;
      const problem = jsonShapeProblem(line);
      if (problem !== undefined) {
        finish(fail("PROTOCOL", `Refused a streamed push: ${which} ${problem}.`));
        return false;
      }
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        finish(fail("PROTOCOL", `Refused a streamed push: ${which} is not valid JSON.`));
        return false;
      }
      if (envelope === undefined) {
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          finish(
            fail(
              "PROTOCOL",
              "Refused a streamed push: its first line must be a JSON object { appId, clientId, batchId }.",
            ),
          );
          return false;
        }
        envelope = value as Record<string, unknown>;
        return true;
      }
      const triple = parseTriple(value, triples.length);
      if (triple.error) {
        finish(triple);
        return false;
      }
      triples.push(triple.data);
      return true;
    };
    const collect = (chunk: Buffer) => {
      if (isDone) return;
      if (received + chunk.length > limits.maxBytes) {
        return finish({
          ...fail("PROTOCOL", `The request body is larger than ${limits.maxBytes} bytes.`, { limit: limits.maxBytes }),
          status: 413,
        });
      }
      if (!limits.bodies.take(chunk.length)) {
        return finish(
          fail("NETWORK", "The server is receiving too many request bodies at once; try again shortly.", {
            limit: limits.bodies.limit,
          }),
        );
      }
      received += chunk.length;
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        return finish(fail("PROTOCOL", "Refused a streamed push: the body is not UTF-8."));
      }
      const lines = (pending + text).split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (!take(line)) return;
      // A line is at most a frame: a body with no newline in sight is refused, not buffered.
      if (pending.length > limits.maxLineBytes)
        finish(
          fail("PROTOCOL", `Refused a streamed push: a line is longer than ${limits.maxLineBytes} bytes.`, {
            limit: limits.maxLineBytes,
          }),
        );
    };
    request.on("data", collect);
    request.on("end", () => {
      if (isDone) return;
      try {
        pending += decoder.decode();
      } catch {
        return finish(fail("PROTOCOL", "Refused a streamed push: the body is not UTF-8."));
      }
      if (!take(pending)) return;
      if (envelope === undefined)
        return finish(
          fail(
            "PROTOCOL",
            "Refused a streamed push: the body is empty; its first line must be { appId, clientId, batchId }.",
          ),
        );
      finish(ok({ envelope, triples }));
    });
    request.on("error", (error) => finish(fail("NETWORK", `The request failed: ${error.message}`)));
    request.on("close", () => finish(fail("NETWORK", "The request was cut off before its body ended.")));
  });
}
