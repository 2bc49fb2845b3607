/**
 * The key a service is found under: `userService`, `user-service` and `user_service` all become
 * `userservice`, so JavaScript property names reach services named in kebab or snake case.
 */
export function serviceKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
