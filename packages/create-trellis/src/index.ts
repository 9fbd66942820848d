export { type CreateAppOptions, type CreatedApp, createApp, templateNames } from "./create-app.js";
