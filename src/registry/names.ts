// Repository names and tags, with the grammar of distribution-spec "Pulling manifests".
import { nameInvalid, tagInvalid } from './errors.js';

export type RepositoryName = string & { readonly __brand: 'RepositoryName' };
export type Tag = string & { readonly __brand: 'Tag' };

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** distribution's limit; clients build "host/name:tag" references that must stay short. */
export const MAX_NAME_LENGTH = 255;

export function parseRepositoryName(value: string): RepositoryName {
  if (value.length === 0) throw nameInvalid('empty name');
  if (value.length > MAX_NAME_LENGTH) throw nameInvalid(`longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME.test(value)) throw nameInvalid('must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*');
  return value as RepositoryName;
}

export function parseTag(value: string): Tag {
  if (!TAG.test(value)) throw tagInvalid('must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}');
  return value as Tag;
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}
