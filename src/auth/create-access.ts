// Builds access control from the `auth` configuration: OpenAccess when there is none, otherwise
// a PolicyAccess with Basic or token credentials, and the built-in token service when enabled.
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config/config.js';
import { ConfigError } from '../config/load.js';
import { OpenAccess, type AccessController } from './access.js';
import type { SharedStateStore } from '../metadata/shared-state.js';
import { FailureLimiter, type LoginLimiter } from './failure-limiter.js';
import { SharedFailureLimiter } from './shared-failure-limiter.js';
import { HtpasswdFile } from './htpasswd.js';
import { Policy } from './policy.js';
import { PolicyAccess } from './policy-access.js';
import { loadSigningKey } from './token-keys.js';
import { TokenService } from './token-service.js';
import { TokenVerifier } from './token-verifier.js';

export interface Access {
  readonly controller: AccessController;
  /** The built-in token service, when auth.tokenservice.enabled. */
  readonly tokenService: TokenService | undefined;
}

/** What several instances of one deployment share (PostgreSQL): see shared-state.ts. */
export interface SharedAccess {
  /** The store holding failed logins; called when first needed. */
  readonly store: () => SharedStateStore;
  /** The deployment's token signing key (PEM), used when auth.tokenservice.keyfile is not set. */
  readonly signingKeyPem: string | undefined;
}

export function createAccess(auth: AuthConfig | undefined, log: Logger, shared?: SharedAccess): Access {
  if (auth === undefined) return { controller: new OpenAccess(), tokenService: undefined };
  const policy = new Policy(auth);
  const limiter: LoginLimiter = shared === undefined ? new FailureLimiter(auth.rateLimit) : new SharedFailureLimiter(auth.rateLimit, shared.store);
  const users = auth.htpasswd === undefined ? undefined : readable('auth.htpasswd.path', () => new HtpasswdFile(auth.htpasswd?.path ?? '', log));
  const realm = auth.htpasswd?.realm ?? 'berth';
  let tokenService: TokenService | undefined;
  let own: { publicKey: KeyObject; kid: string } | undefined;
  if (auth.tokenService !== undefined && auth.token !== undefined && users !== undefined) {
    const keyFile = auth.tokenService.keyFile;
    const { key, generated } = readable('auth.tokenservice.keyfile', () => loadSigningKey(keyFile, shared?.signingKeyPem, auth.tokenService?.kidFormat));
    if (generated) log.info({ keyFile: auth.tokenService.keyFile ?? '(in memory)', kid: key.kid }, 'generated the token signing key');
    else if (keyFile === undefined && shared?.signingKeyPem !== undefined) log.info({ kid: key.kid }, 'token signing key: the one the database holds for every instance');
    own = { publicKey: key.publicKey, kid: key.kid };
    tokenService = new TokenService({
      key,
      users,
      policy,
      limiter,
      log,
      issuer: auth.token.issuer,
      service: auth.token.service,
      realm,
      expirationMs: auth.tokenService.expirationMs,
      refreshExpirationMs: auth.tokenService.refreshExpirationMs,
    });
  }
  const token = auth.token;
  const controller = new PolicyAccess({
    policy,
    limiter,
    log,
    basic: users === undefined ? undefined : { realm, users },
    token:
      token === undefined
        ? undefined
        : {
            verifier: readable(token.jwks !== undefined ? 'auth.token.jwks' : 'auth.token.rootcertbundle', () => new TokenVerifier({
              issuer: token.issuer,
              audience: token.service,
              algorithms: token.algorithms,
              leewayMs: token.leewayMs,
              own,
              rootCertBundle: token.rootCertBundle,
              jwks: token.jwks,
            })),
            realm: token.realm,
            service: token.service,
          },
  });
  return { controller, tokenService };
}

/** Runs `make`; a file that cannot be read or parsed becomes a ConfigError naming `key`. */
function readable<T>(key: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    throw new ConfigError(`cannot use the file: ${(error as Error).message}`, key);
  }
}
