/** A statement of a remediation or its undo failed; the message names the statement and the server's answer. */
export class RemediationError extends Error {
  override name = 'RemediationError';
}
