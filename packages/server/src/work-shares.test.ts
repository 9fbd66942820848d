import { describe, expect, it } from "vitest";
import { WorkShares } from "./work-shares.js";

describe("WorkShares", () => {
  it("slows a user over its share only while another user is being served, and keeps the share across connections", () => {
    const shares = new WorkShares(50, 100);
    const hog = shares.acquire("app\u0000hog");
    hog.spend(400);
    // Alone on the server, it may have all of it.
    expect(hog.waitMs()).toBe(0);
    const calm = shares.acquire("app\u0000calm");
    calm.spend(1);
    // 300 ms over at 50 ms a second: about 6 s, while the other user is active.
    expect(hog.waitMs()).toBeGreaterThan(5_900);
    expect(calm.waitMs()).toBe(0);
    // Its next connection spends the same share.
    shares.release("app\u0000hog");
    expect(shares.acquire("app\u0000hog")).toBe(hog);
    shares.close();
  });
});
