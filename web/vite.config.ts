import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The UI only speaks the public contract under /api. In development (and in
// `vite preview`) those requests are proxied to a natter server, or any other
// server that implements the same contract (e.g. the Node peer).
const target = process.env.API_TARGET || "http://127.0.0.1:3000";
const proxy = {
  "/api": { target, ws: true, changeOrigin: false },
  "/healthz": { target },
};

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: { proxy },
  preview: { proxy },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
