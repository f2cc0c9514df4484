import { GetUserIdCommand, ListUsersCommand } from '@aws-sdk/client-identitystore';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, describeAwsError, isCode } from './errors.js';

// Who a Latch person is to Identity Center: the identity store user whose e-mail is theirs.
// GetUserId with the unique attribute emails.value is the direct way; stores synced by SCIM
// from some directories mark no e-mail as unique, so a miss is tried again as the user name
// (most directories make the user name the e-mail).

export class IdentityStoreUserNotFound extends AwsProvisionerError {
  override name = 'IdentityStoreUserNotFound';
}

export async function identityStoreUserId(clients: AwsClients, integration: string, identityStoreId: string, email: string): Promise<string> {
  const store = clients.identityStore();
  const where = `integration "${integration}": finding the Identity Center user for ${email}`;
  try {
    const answer = await store.send(new GetUserIdCommand({
      IdentityStoreId: identityStoreId,
      AlternateIdentifier: { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: email } },
    }));
    if (answer.UserId) return answer.UserId;
  } catch (error) {
    if (!isCode(error, 'ResourceNotFound')) throw describeAwsError(error, `${where} (identitystore:GetUserId)`, clients.connection.region);
  }
  try {
    const answer = await store.send(new ListUsersCommand({ IdentityStoreId: identityStoreId, Filters: [{ AttributePath: 'UserName', AttributeValue: email }] }));
    const user = answer.Users?.find((candidate) => candidate.UserId);
    if (user?.UserId) return user.UserId;
  } catch (error) {
    throw describeAwsError(error, `${where} (identitystore:ListUsers)`, clients.connection.region);
  }
  throw new IdentityStoreUserNotFound(`IAM Identity Center has no user with the e-mail ${email} in identity store ${identityStoreId} (tried emails.value and the user name): add the person to Identity Center, or make their Identity Center e-mail the one Latch knows`, 'ResourceNotFoundException');
}
