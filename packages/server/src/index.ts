/**
 * @trellis/server is not built yet; see the project's issues for its scope.
 * The package exists so the workspace layout and dependency direction are fixed from the start.
 */
export const PACKAGE_NAME = "@trellis/server";
