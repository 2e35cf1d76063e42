// The typed configuration the rest of Berth reads, assembled from validated key values.
export interface Config {
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: Record<string, unknown>; readonly accessLog: boolean };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly baseUrl: string | undefined;
    readonly drainTimeoutMs: number;
    readonly headers: Record<string, string[]>;
    readonly tls: { readonly certificate: string; readonly key: string; readonly clientCas: string[]; readonly minVersion: 'TLSv1.2' | 'TLSv1.3' } | undefined;
  };
  readonly storage: {
    readonly driver: { readonly kind: 'filesystem'; readonly rootDirectory: string } | { readonly kind: 'inmemory' };
    readonly deleteEnabled: boolean;
    readonly readOnly: boolean;
    readonly uploadPurging: { readonly enabled: boolean; readonly ageMs: number; readonly intervalMs: number; readonly dryRun: boolean };
  };
  readonly metadata: { readonly sqlitePath: string; readonly synchronous: 'FULL' | 'NORMAL' };
  readonly limits: { readonly manifestMaxBytes: number; readonly catalogDefault: number; readonly maxPage: number };
}
