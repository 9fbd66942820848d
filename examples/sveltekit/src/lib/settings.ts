/** Where the sync server is and which app (tenant) to use: read on the server, sent to the browser. */
export interface TrellisSettings {
  readonly serverUrl: string;
  readonly appId: string;
}
