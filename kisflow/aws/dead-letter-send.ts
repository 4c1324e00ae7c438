import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InfrastructureError, OversizeError } from '../errors.ts';
import { type DeadLetterReason, deadLetterAttributes } from '../wire/dead-letter-record.ts';
import { messageSize, SQS_MAX_MESSAGE_BYTES } from '../wire/limits.ts';

/**
 * Room kept for a dead letter's attributes when sizing its body: the five `kisflow.*` attributes
 * are cut to at most 256 + 1,024 + 256 + 256 characters (≤ 4 bytes each in UTF-8) plus their names.
 */
export const DEAD_LETTER_ATTRIBUTE_ROOM = 8_192;

/**
 * Sends `body` unchanged to a dead-letter queue with the reason as message attributes
 * (`kisflow.error.code`, `kisflow.error.message`, `kisflow.flow`, `kisflow.step`, `kisflow.fid`).
 * Used for a message whose retries are exhausted or which cannot be decoded: the original bytes
 * are kept so that `kisflow redrive` can send them back. When body and attributes exceed SQS's
 * 1 MiB, the message attribute is shortened first (the body never is).
 *
 * @returns the dead letter's SQS message id.
 * @throws OversizeError `MESSAGE_TOO_LARGE` when the body alone cannot be a message;
 *   InfrastructureError `SQS_SEND_FAILED` when SQS fails.
 * @example
 * await deadLetterMessage(sqs, dlqUrl, record.body, { code: 'MALFORMED_JSON', message: err.message, flow: 'orders', step: 1 });
 */
export async function deadLetterMessage(
  sqs: SQSClient,
  dlqUrl: string,
  body: string,
  reason: DeadLetterReason,
): Promise<string> {
  let attributes = deadLetterAttributes(reason);
  if (messageSize(body, attributes) > SQS_MAX_MESSAGE_BYTES) {
    attributes = deadLetterAttributes({ ...reason, message: reason.message.slice(0, 64) });
  }
  const size = messageSize(body, attributes);
  if (size > SQS_MAX_MESSAGE_BYTES) {
    throw new OversizeError(
      'MESSAGE_TOO_LARGE',
      `The dead letter for ${reason.code} takes ${size} bytes with its reason attributes, more than SQS's ${SQS_MAX_MESSAGE_BYTES}-byte message limit.`,
      { size, limit: SQS_MAX_MESSAGE_BYTES, code: reason.code },
    );
  }
  try {
    const out = await sqs.send(
      new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: body, MessageAttributes: attributes }),
    );
    return out.MessageId ?? '';
  } catch (error) {
    throw new InfrastructureError(
      'SQS_SEND_FAILED',
      `Could not dead-letter a message (${reason.code}) to ${dlqUrl}: ${(error as Error).name}: ${(error as Error).message}`,
      { queueUrl: dlqUrl, code: reason.code },
      { cause: error },
    );
  }
}
