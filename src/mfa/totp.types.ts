import { Field, ObjectType } from 'type-graphql';

@ObjectType('TotpSetup', {
  description: 'A new TOTP secret for an authenticator app; confirmTotpSetup with its first code turns it on.',
})
export class TotpSetup {
  @Field({ description: 'The secret in base32, for typing into an app by hand.' })
  secret!: string;

  @Field({ description: 'An otpauth://totp/ URI (SHA-1, 6 digits, 30 s), what the QR code holds.' })
  otpauthUrl!: string;

  @Field({ description: 'The otpauth URI as a QR code, an SVG document.' })
  qrCodeSvg!: string;
}
