// The token signing key of a deployment whose instances share a metadata store: the first instance
// to start generates it and stores it (SharedStateStore.sharedValue), every other one reads the same,
// so a token (or refresh token, a JWT signed with it) issued by one instance is accepted by all.
// Used when auth.tokenservice.keyfile is not set; with a keyfile, each instance reads its file (give
// them the same one). The key is in the database in clear (PEM): guard the database as the key.
import type { SharedStateStore } from '../metadata/shared-state.js';
import { generateSigningKeyPem } from './token-keys.js';

export const SIGNING_KEY_NAME = 'auth.tokenservice.signingkey';

export function sharedSigningKeyPem(store: SharedStateStore): Promise<string> {
  return store.sharedValue(SIGNING_KEY_NAME, generateSigningKeyPem());
}
