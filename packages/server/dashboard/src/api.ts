// The admin API as the dashboard calls it: every request carries the admin secret the user
// signed in with (kept in this tab's sessionStorage, never in the page).
import type { BrowsedCell, BrowsedDocument } from "../../src/apps/data-browser.js";
import type { MetricsSample } from "../../src/apps/metrics-history.js";

export type { BrowsedCell, BrowsedDocument, MetricsSample };

/** A refusal from the server, or a failure to reach it. */
export interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type ApiResult<T> =
  { readonly data: T; readonly error?: undefined } | { readonly data?: undefined; readonly error: ApiError };

export interface AppInfo {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

export interface Metrics {
  readonly id: string;
  readonly isOpen: boolean;
  readonly connections: number;
  readonly liveQueries: number;
  readonly writesPerSecond: number;
  readonly storageBytes: number;
  readonly history: readonly MetricsSample[];
}

export interface RoomAddress {
  readonly roomType: string;
  readonly roomId: string;
}

export interface ConnectionInfo {
  readonly userId: string | null;
  readonly clientId: string | null;
  readonly since: number | null;
  readonly liveQueries: number;
  readonly rooms: readonly RoomAddress[];
}

export interface RoomInfo extends RoomAddress {
  readonly connections: number;
  readonly users: ReadonlyArray<{ readonly userId: string; readonly statusKeys: readonly string[] }>;
  readonly statusKeys: readonly string[];
}

export interface RulesInfo {
  readonly source: "app" | "server" | "none";
  readonly rules: unknown;
}

export interface AuthKeyView {
  readonly id: string;
  readonly type: "secret" | "publicKey" | "jwks";
  readonly algorithm?: string;
  readonly jwksUrl?: string;
}

export interface AuthInfo {
  readonly source: "app" | "server";
  readonly keys?: readonly AuthKeyView[];
  readonly audience?: string;
  readonly issuer?: string;
}

export interface KeyInfo {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

const SECRET_KEY = "trellis.dashboard.secret";

export function storedSecret(): string | undefined {
  return sessionStorage.getItem(SECRET_KEY) ?? undefined;
}

export function storeSecret(secret: string | undefined): void {
  if (secret === undefined) sessionStorage.removeItem(SECRET_KEY);
  else sessionStorage.setItem(SECRET_KEY, secret);
}

/** The admin API of the server that served this page, as one admin. */
export class AdminApi {
  constructor(private readonly secret: string) {}

  listApps(): Promise<ApiResult<{ apps: AppInfo[] }>> {
    return this.call("GET", "");
  }

  createApp(name: string): Promise<ApiResult<AppInfo>> {
    return this.call("POST", "", { name });
  }

  deleteApp(id: string): Promise<ApiResult<{ deleted: string }>> {
    return this.call("DELETE", `/${enc(id)}?confirm=true`);
  }

  metrics(id: string): Promise<ApiResult<Metrics>> {
    return this.call("GET", `/${enc(id)}/metrics`);
  }

  collections(id: string): Promise<ApiResult<{ collections: Array<{ name: string; documents: number }> }>> {
    return this.call("GET", `/${enc(id)}/collections`);
  }

  documents(
    id: string,
    query: { collection: string; where?: string; after?: string; limit?: number },
  ): Promise<ApiResult<{ documents: BrowsedDocument[]; next: string | null }>> {
    const params = new URLSearchParams({ collection: query.collection, limit: String(query.limit ?? 25) });
    if (query.where !== undefined && query.where.trim() !== "") params.set("where", query.where);
    if (query.after !== undefined) params.set("after", query.after);
    return this.call("GET", `/${enc(id)}/documents?${params}`);
  }

  document(
    id: string,
    collection: string,
    docId: string,
  ): Promise<ApiResult<{ id: string; isDeleted: boolean; cells: BrowsedCell[] }>> {
    return this.call("GET", `/${enc(id)}/document?${new URLSearchParams({ collection, id: docId })}`);
  }

  connections(id: string): Promise<ApiResult<{ connections: ConnectionInfo[]; rooms: RoomInfo[] }>> {
    return this.call("GET", `/${enc(id)}/connections`);
  }

  rules(id: string): Promise<ApiResult<RulesInfo>> {
    return this.call("GET", `/${enc(id)}/permissions`);
  }

  setRules(id: string, rules: unknown): Promise<ApiResult<RulesInfo>> {
    return this.call("PUT", `/${enc(id)}/permissions`, rules);
  }

  clearRules(id: string): Promise<ApiResult<RulesInfo>> {
    return this.call("DELETE", `/${enc(id)}/permissions`);
  }

  auth(id: string): Promise<ApiResult<AuthInfo>> {
    return this.call("GET", `/${enc(id)}/auth`);
  }

  setAuth(id: string, settings: unknown): Promise<ApiResult<AuthInfo>> {
    return this.call("PUT", `/${enc(id)}/auth`, settings);
  }

  clearAuth(id: string): Promise<ApiResult<AuthInfo>> {
    return this.call("DELETE", `/${enc(id)}/auth`);
  }

  keys(id: string): Promise<ApiResult<{ keys: KeyInfo[] }>> {
    return this.call("GET", `/${enc(id)}/keys`);
  }

  createKey(id: string, name: string): Promise<ApiResult<KeyInfo & { key: string }>> {
    return this.call("POST", `/${enc(id)}/keys`, { name });
  }

  revokeKey(id: string, keyId: string): Promise<ApiResult<{ revoked: string }>> {
    return this.call("DELETE", `/${enc(id)}/keys/${enc(keyId)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.secret}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`/v1/admin/apps${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      return {
        error: { status: 0, code: "NETWORK", message: `The server did not answer: ${(error as Error).message}` },
      };
    }
    const answer = (await response.json().catch(() => undefined)) as { error?: Omit<ApiError, "status"> } | undefined;
    if (response.ok && answer !== undefined) return { data: answer as T };
    const error = answer?.error;
    return {
      error: {
        status: response.status,
        code: error?.code ?? "NETWORK",
        message: error?.message ?? `The server answered ${response.status}.`,
        ...(error?.details === undefined ? {} : { details: error.details }),
      },
    };
  }
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

/** A mistake to show next to what the user typed: the message and, when the server names one, its path. */
export interface InputError {
  readonly message: string;
  readonly path?: string;
}

export function inputError(error: ApiError): InputError {
  return { message: error.message, ...(typeof error.details?.path === "string" ? { path: error.details.path } : {}) };
}

/** Sends JSON the user typed: text that is not JSON, or a refusal, comes back as an {@link InputError}. */
export async function sendTyped<T>(
  text: string,
  send: (value: unknown) => Promise<ApiResult<T>>,
): Promise<
  { readonly data: T; readonly error?: undefined } | { readonly data?: undefined; readonly error: InputError }
> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: { message: `Not JSON: ${(error as Error).message}` } };
  }
  const answer = await send(value);
  return answer.error ? { error: inputError(answer.error) } : { data: answer.data };
}

/** A value as one short line of text for tables. */
export function preview(value: unknown, max = 80): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "undefined");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString();
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
