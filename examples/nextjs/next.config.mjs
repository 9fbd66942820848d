// The workspace packages are used from their build output (dist/, built by `pnpm run build`),
// as an app installing them from npm would.
/** @type {import("next").NextConfig} */
const nextConfig = {
  // `ws` is the client's Node fallback WebSocket: load it from node_modules on the server.
  serverExternalPackages: ["ws"],
  poweredByHeader: false,
};

export default nextConfig;
