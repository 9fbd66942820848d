import { TrellisProvider } from "@trellis/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.js";
import { client } from "./trellis.js";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html needs a #root element.");
createRoot(root).render(
  <StrictMode>
    <TrellisProvider client={client}>
      <App />
    </TrellisProvider>
  </StrictMode>,
);
