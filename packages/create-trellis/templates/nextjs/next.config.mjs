/** @type {import("next").NextConfig} */
const nextConfig = {
  // `ws` is @trellis/client's WebSocket under Node: the server side loads it from node_modules.
  serverExternalPackages: ["ws"],
};

export default nextConfig;
