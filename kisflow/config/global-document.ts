import * as z from 'zod';
import { type DocumentKind, defined } from './document-kind.ts';
import type { GlobalSpec } from './model.ts';

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]*):(\d{1,5})$/;

const schema = z
  .strictObject({
    kistype: z.literal('global').describe('Document type: project-wide settings (at most one).'),
    prometheus_enable: z
      .boolean()
      .default(false)
      .describe('Collect Prometheus metrics when running locally.'),
    prometheus_listen: z
      .boolean()
      .default(false)
      .describe('Serve the metrics on `prometheus_serve` (locally; in AWS metrics go to CloudWatch).'),
    prometheus_serve: z
      .string()
      .regex(HOST_PORT, {
        error: (issue) => `must be host:port (e.g. 0.0.0.0:20004), got ${JSON.stringify(issue.input)}`,
      })
      .refine((text) => Number(HOST_PORT.exec(text)?.[2] ?? 0) <= 65_535, {
        error: 'port must be at most 65535',
      })
      .optional()
      .describe('Address of the local Prometheus endpoint, `host:port`.'),
    metrics_namespace: z
      .string()
      // CloudWatch namespace rules: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html
      .regex(/^[0-9A-Za-z.\-_/#: ]{1,255}$/, {
        error: 'must be 1 to 255 of letters, digits and . - _ / # : or space (CloudWatch namespace)',
      })
      .refine((text) => !text.startsWith('AWS/'), { error: 'must not start with AWS/ (reserved by AWS)' })
      .default('KisFlow')
      .describe('CloudWatch namespace of the metrics.'),
    alarm_email: z
      .union([z.email(), z.array(z.email()).min(1)])
      .optional()
      .describe(
        'Address (or list) the alarm topic emails in AWS; each confirms the subscription once. Also `-c kisflow:alarmEmail=...`.',
      ),
  })
  .superRefine((value, ctx) => {
    if (value.prometheus_enable && value.prometheus_listen && value.prometheus_serve === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs prometheus_serve, the host:port to listen on (e.g. 0.0.0.0:20004)',
        path: ['prometheus_listen'],
      });
    }
  })
  .meta({
    title: 'global',
    examples: [
      {
        kistype: 'global',
        prometheus_enable: true,
        prometheus_listen: true,
        prometheus_serve: '0.0.0.0:20004',
        metrics_namespace: 'Shop',
      },
    ],
  })
  .describe('Project-wide settings; without a global document every field has its default.');

export const globalDocument: DocumentKind<typeof schema, GlobalSpec> = {
  kistype: 'global',
  schema,
  idKeys: [],
  toSpec(parsed, locate) {
    return defined({
      prometheusEnable: parsed.prometheus_enable,
      prometheusListen: parsed.prometheus_listen,
      prometheusServe: parsed.prometheus_serve,
      metricsNamespace: parsed.metrics_namespace,
      alarmEmails:
        parsed.alarm_email === undefined
          ? undefined
          : typeof parsed.alarm_email === 'string'
            ? [parsed.alarm_email]
            : parsed.alarm_email,
      at: locate([]),
    });
  },
};
