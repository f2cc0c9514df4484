// AWS errors said plainly: which call, on what, and what to change. The SDK's own messages
// are kept at the end (they name the principal and the action), and never carry a secret:
// credentials travel only in responses, which errors do not include.

export class AwsProvisionerError extends Error {
  override name = 'AwsProvisionerError';
  /** The AWS error code, when AWS answered (AccessDenied, ValidationError, ...). */
  readonly code: string | null;

  constructor(message: string, code: string | null = null, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The AWS error code of an SDK error (modelled exceptions carry the shape name, e.g. PackedPolicyTooLargeException). */
export function awsErrorCode(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null;
  const record = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const value of [record.Code, record.code, record.name]) if (typeof value === 'string' && value !== 'Error') return value;
  return null;
}

export function awsErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isAccessDenied(error: unknown): boolean {
  const code = awsErrorCode(error) ?? '';
  return /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|AuthorizationError)$/.test(code);
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return code !== null && codes.some((wanted) => code === wanted || code === `${wanted}Exception`);
}

/** Any AWS error, with the integration, the step and the region in front. */
export function describeAwsError(error: unknown, where: string, region: string | null): AwsProvisionerError {
  if (error instanceof AwsProvisionerError) return error;
  const code = awsErrorCode(error);
  const text = awsErrorMessage(error);
  const inRegion = region ? ` in ${region}` : '';
  if (isAccessDenied(error)) {
    // A service control policy denies look the same; naming the region helps find it.
    return new AwsProvisionerError(`${where} was denied${inRegion}: ${text}. Check the connector's IAM policy (docs/provisioners/aws.md) and any service control policy for this account and region.`, code, { cause: error });
  }
  if (isCode(error, 'RegionDisabled')) {
    return new AwsProvisionerError(`${where} failed: STS is not activated in ${region ?? 'this region'} for the account; activate the region in IAM account settings or set connection.region to an active one (${text})`, code, { cause: error });
  }
  if (isCode(error, 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded')) {
    return new AwsProvisionerError(`${where}: AWS kept throttling the calls${inRegion} after retries; Latch tries again later (${text})`, code, { cause: error });
  }
  return new AwsProvisionerError(`${where} failed${inRegion}: ${code ? `${code}: ` : ''}${text}`, code, { cause: error });
}
