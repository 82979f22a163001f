// URLs as freshen shows them — in logs, notices, --print-config and the
// status page — without the credentials an operator may have put in them.

// Query parameters that carry credentials (?api_key=…, ?password=…, ?token=…).
const SECRET_PARAM = /pass|secret|token|key|auth|sig|credential|access|session/i;

/**
 * A URL with its password and credential-like query values replaced by
 * asterisks; a user name with no password is a token too (https://TOKEN@host).
 */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const secrets = [...parsed.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
    const tokenUser = parsed.username !== '' && parsed.password === '';
    if (parsed.password === '' && !tokenUser && secrets.length === 0) return url;
    if (parsed.password !== '') parsed.password = '********';
    if (tokenUser) parsed.username = '********';
    for (const k of secrets) parsed.searchParams.set(k, '********');
    // Keep the operator's `{id}` readable (URL would percent-encode the braces).
    return parsed.toString().replaceAll('%7Bid%7D', '{id}');
  } catch {
    // Not a URL: hide everything between "//" and the last "@", if any.
    return url.replace(/\/\/.*@/, '//********@');
  }
}
