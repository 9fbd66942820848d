import type { Metadata } from "next";
import type { ReactNode } from "react";

// No icon file: an empty one keeps browsers from asking for /favicon.ico.
export const metadata: Metadata = { title: "{{name}}", icons: { icon: "data:," } };

export default function RootLayout({ children }: { readonly children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", maxWidth: 560, margin: "2rem auto", padding: "0 1rem" }}>
        {children}
      </body>
    </html>
  );
}
