/**
 * The "try this" lines of the Express and Koa examples' banners: both serve the same API to
 * the same demo users (`SEED` in backend.ts), so the curl commands that show its three gates are the same.
 */
/**
 * Curl commands, one per gate outcome, against the example API at `url`.
 *
 * @example
 * console.log(`Express example: ${url}\n\n${tryTheApi(url)}`);
 */
export function tryTheApi(url: string): string {
  return `Try this (alice: free, bob: pro, carol: team):
  curl -i ${url}/export -H 'X-User-Id: alice'          # 403 not licensed (free has no export)
  curl -i ${url}/export -H 'X-User-Id: bob'            # 200
  curl -i -X POST ${url}/sms -H 'X-User-Id: alice'     # 200, one SMS used
  curl -i ${url}/team/reports -H 'X-User-Id: bob'      # 403: needs the team plan
  curl -i ${url}/team/reports -H 'X-User-Id: carol'    # 200`;
}
