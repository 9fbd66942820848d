import { describe, expect, it } from "vitest";
import { StoredVersions } from "./stored-versions.js";

describe("stored versions", () => {
  it("follows this client's commits while each is the next version, and forgets after a gap", () => {
    const versions = new StoredVersions();
    versions.read("a", 4);
    versions.committed(new Map([["a", 5]]));
    expect(versions.of("a")).toBe(5);
    // 7, not 6: another tab committed in between, unseen here.
    versions.committed(new Map([["a", 7]]));
    expect(versions.of("a")).toBeUndefined();
    versions.committed(new Map([["a", 8]]));
    expect(versions.of("a")).toBeUndefined();
  });

  it("follows another tab's commit only from the version just before it", () => {
    const versions = new StoredVersions();
    versions.read("a", 2);
    versions.storedElsewhere([["a", 3]]);
    expect(versions.of("a")).toBe(3);
    versions.storedElsewhere([["a", 5]]);
    expect(versions.of("a")).toBe(3);
  });

  it("knows nothing of collections not read, read with a failure, or dropped", () => {
    const versions = new StoredVersions();
    versions.committed(new Map([["a", 1]]));
    versions.storedElsewhere([["a", 1]]);
    expect(versions.of("a")).toBeUndefined();
    versions.read("b", null);
    expect(versions.of("b")).toBeUndefined();
    versions.read("c", 1);
    versions.dropped("c");
    versions.storedElsewhere([["c", 2]]);
    expect(versions.of("c")).toBeUndefined();
  });
});
