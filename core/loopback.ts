/**
 * Plain HTTP is allowed only where nobody else is on the wire. Hostnames are compared as
 * the URL parser normalises them (`127.1` is `127.0.0.1`, IPv6 is bracketed).
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}
