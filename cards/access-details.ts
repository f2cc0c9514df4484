/**
 * Fills an integration's access-details template (`psql -h {{host}} -U {{username}}`).
 * Unknown placeholders stay visible so an admin sees the template needs a fix.
 */
export function renderAccessDetails(template: string, values: Record<string, string | number | boolean>): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_]+)\s*\}\}/g, (placeholder, name: string) => (name in values ? String(values[name]) : placeholder));
}
