import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';

export type OutgoingMail = {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** The mail's kind, for file names and logs. */
  kind: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
};

/** Where mail goes: an SMTP server, .eml files in a folder (development), or nowhere (disabled). */
export type MailTransport = {
  /** Said at start: where mails go, without credentials. */
  describe: string;
  /** true: mail is off (MAIL_DISABLED); the mail job then composes nothing. */
  disabled?: boolean;
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
};

export type MailTransportSettings = {
  smtpUrl: string | undefined;
  disabled: boolean;
  /** Where development mails are written when no SMTP server is configured. */
  fileDir: string | undefined;
  timeoutMs: number;
};

/** The nodemailer message for a mail, with its fixed Message-ID (receivers can tell a resend). */
function message(mail: OutgoingMail) {
  const { kind: _, ...rest } = mail;
  return rest;
}

/** The transport the settings ask for; nodemailer does the SMTP and the MIME. */
export function createMailTransport(settings: MailTransportSettings): MailTransport {
  if (settings.disabled || (!settings.smtpUrl && !settings.fileDir))
    return { describe: 'disabled (mail is not sent)', disabled: true, send: async () => {}, close: () => {} };
  if (settings.smtpUrl) {
    const url = new URL(settings.smtpUrl);
    const smtp = nodemailer.createTransport({
      url: settings.smtpUrl,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
    });
    return {
      describe: `SMTP ${url.protocol}//${url.host}`,
      send: async (mail) => {
        await smtp.sendMail(message(mail));
      },
      close: () => smtp.close(),
    };
  }
  const dir = path.resolve(settings.fileDir as string);
  const files = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    describe: `files in ${dir}`,
    send: async (mail) => {
      const info = await files.sendMail(message(mail));
      await mkdir(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const id = mail.messageId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 36);
      await writeFile(path.join(dir, `${stamp}-${mail.kind}-${id}.eml`), info.message as Buffer);
    },
    close: () => files.close(),
  };
}
