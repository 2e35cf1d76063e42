// REGISTRY_* environment variables that name no configuration key. distribution warns about them,
// naming the variable; so does Berth. A variable that puts a storage driver or a metadata database
// Berth lacks into the configuration (REGISTRY_STORAGE_AZURE_ACCOUNTNAME, REGISTRY_STORAGE_GCS_BUCKET,
// REGISTRY_METADATA_MYSQL_HOST) stops start-up instead: the operator meant the data to go there,
// and serving from ./data would put it where nobody looks. Everything is derived from KEYS.
import { envName, KEYS } from './keys.js';

export interface UnknownVariable {
  readonly variable: string;
  /** True: start-up must be refused (the variable selects a driver or database Berth lacks). */
  readonly refuse: boolean;
  readonly message: string;
}

const NAMES = new Set(KEYS.map((spec) => envName(spec.path)));

/** Sections (second path segment) below each top-level key whose sections are alternatives: storage drivers, metadata databases. */
const ALTERNATIVES: ReadonlyMap<string, { readonly what: string; readonly sections: ReadonlySet<string> }> = new Map(
  (
    [
      ['storage', 'storage driver'],
      ['metadata', 'metadata database'],
    ] as const
  ).map(([top, what]) => [
    top,
    { what, sections: new Set(KEYS.filter((spec) => spec.path.startsWith(`${top}.`)).map((spec) => (spec.path.split('.')[1] ?? '').toUpperCase())) },
  ]),
);

export function unknownVariables(env: NodeJS.ProcessEnv): UnknownVariable[] {
  const found: UnknownVariable[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith('REGISTRY_') || NAMES.has(variable) || env[variable] === undefined) continue;
    const [top = '', section] = variable.slice('REGISTRY_'.length).split('_');
    const alternatives = ALTERNATIVES.get(top.toLowerCase());
    if (alternatives !== undefined && (section === undefined || !alternatives.sections.has(section))) {
      const known = [...alternatives.sections].map((name) => name.toLowerCase()).join(', ');
      found.push({
        variable,
        refuse: true,
        message:
          section === undefined
            ? `environment variable ${variable} names no configuration key: Berth selects the ${alternatives.what} by its keys (${top.toLowerCase()}.<section>.*), sections: ${known}`
            : `environment variable ${variable} names ${top.toLowerCase()}.${section.toLowerCase()}, which Berth does not have (its ${top.toLowerCase()} sections: ${known}); a ${alternatives.what} Berth lacks would leave the data somewhere the operator did not mean, so Berth does not start`,
      });
    } else {
      found.push({ variable, refuse: false, message: `environment variable ${variable} names no configuration key and is ignored (docs/configuration.md lists them)` });
    }
  }
  return found;
}
