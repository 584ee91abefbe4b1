import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

type Algorithm = 'ES256' | 'EdDSA' | 'RS256';

/** A passkey the software authenticator holds. */
export interface HeldCredential {
  id: Buffer;
  rpId: string;
  userHandle: string;
  algorithm: Algorithm;
  privateKey: KeyObject;
  counter: number;
}

/** What a test may change about one ceremony, to play a wrong or hostile client. */
export interface Ceremony {
  origin?: string;
  rpId?: string;
  /** User verification (a PIN or biometrics) done; true by default. */
  userVerified?: boolean;
  algorithm?: Algorithm;
  /** Sign with this counter instead of the next one (a cloned authenticator). */
  counter?: number;
  credential?: HeldCredential;
  challenge?: string;
  /** Send this user handle instead of the passkey's; null sends none. */
  userHandle?: string | null;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

function coseKey(algorithm: Algorithm, publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = (s: string | undefined) => new Uint8Array(Buffer.from(s!, 'base64url'));
  // COSE key parameters (RFC 9053): kty, alg, then the curve and coordinates or the modulus and exponent.
  const entries: [number, number | Uint8Array][] =
    algorithm === 'ES256'
      ? [
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, raw(jwk.x)],
          [-3, raw(jwk.y)],
        ]
      : algorithm === 'EdDSA'
        ? [
            [1, 1],
            [3, -8],
            [-1, 6],
            [-2, raw(jwk.x)],
          ]
        : [
            [1, 3],
            [3, -257],
            [-1, raw(jwk.n)],
            [-2, raw(jwk.e)],
          ];
  return isoCBOR.encode(new Map(entries));
}

function keyPair(algorithm: Algorithm) {
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (algorithm === 'EdDSA') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

function signWith(credential: HeldCredential, data: Buffer): Buffer {
  return credential.algorithm === 'EdDSA'
    ? sign(null, data, credential.privateKey)
    : sign('sha256', data, credential.privateKey);
}

/**
 * A software WebAuthn authenticator for tests over HTTP: it makes real key pairs and signs real
 * responses (attestation "none", ES256 / EdDSA / RS256), as a platform authenticator with user
 * verification and resident keys would. The Chromium test drives the browser's own virtual
 * authenticator instead.
 */
export class SoftwareAuthenticator {
  readonly credentials: HeldCredential[] = [];

  /** `keepsCounter`: a hardware key's growing counter; else 0 always (most synced passkeys). */
  constructor(
    readonly origin: string,
    private readonly options: { keepsCounter?: boolean; backedUp?: boolean } = {},
  ) {}

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  private flags(ceremony: Ceremony, extra: number): number {
    const backup = this.options.backedUp ? FLAG_BE | FLAG_BS : 0;
    return FLAG_UP | (ceremony.userVerified === false ? 0 : FLAG_UV) | backup | extra;
  }

  /** navigator.credentials.create(): a new passkey for the options' RP and user. */
  create(options: PublicKeyCredentialCreationOptionsJSON, ceremony: Ceremony = {}): RegistrationResponseJSON {
    const algorithm = ceremony.algorithm ?? 'ES256';
    const { privateKey, publicKey } = keyPair(algorithm);
    const rpId = ceremony.rpId ?? options.rp.id!;
    const credential: HeldCredential = {
      id: randomBytes(16),
      rpId,
      userHandle: options.user.id,
      algorithm,
      privateKey,
      counter: 0,
    };
    const counter = this.options.keepsCounter ? 1 : 0;
    credential.counter = counter;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      Buffer.from([this.flags(ceremony, FLAG_AT)]),
      uint32(counter),
      Buffer.alloc(16),
      idLength,
      credential.id,
      coseKey(algorithm, publicKey),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', new Uint8Array(authData)],
      ]) as never,
    );
    this.credentials.push(credential);
    const clientDataJSON = this.clientData(
      'webauthn.create',
      ceremony.challenge ?? options.challenge,
      ceremony.origin ?? this.origin,
    );
    return {
      ...publicKeyCredential(credential),
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** navigator.credentials.get(): an assertion by a held passkey (the newest, unless one is named). */
  get(options: PublicKeyCredentialRequestOptionsJSON, ceremony: Ceremony = {}): AuthenticationResponseJSON {
    const credential = ceremony.credential ?? this.credentials.at(-1);
    if (!credential) throw new Error('the software authenticator holds no passkey');
    if (ceremony.counter === undefined && this.options.keepsCounter) credential.counter += 1;
    const counter = ceremony.counter ?? credential.counter;
    const authenticatorData = Buffer.concat([
      createHash('sha256')
        .update(ceremony.rpId ?? credential.rpId)
        .digest(),
      Buffer.from([this.flags(ceremony, 0)]),
      uint32(counter),
    ]);
    const clientDataJSON = this.clientData(
      'webauthn.get',
      ceremony.challenge ?? options.challenge,
      ceremony.origin ?? this.origin,
    );
    const signature = signWith(
      credential,
      Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]),
    );
    return {
      ...publicKeyCredential(credential),
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        ...(ceremony.userHandle !== null && { userHandle: ceremony.userHandle ?? credential.userHandle }),
      },
    };
  }
}

/** The fields a PublicKeyCredential's JSON has besides its response. */
function publicKeyCredential(credential: HeldCredential) {
  return {
    id: b64url(credential.id),
    rawId: b64url(credential.id),
    type: 'public-key' as const,
    clientExtensionResults: {},
    authenticatorAttachment: 'platform' as const,
  };
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
