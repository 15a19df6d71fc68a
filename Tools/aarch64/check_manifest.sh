#!/usr/bin/env bash
# Checks that Package@swift-6.0.swift (the manifest Swift 6.0 reads: Debian's arm64 toolchain)
# is in step with Package.swift: every target and every package dependency of Package.swift is
# declared in it too, or named on an `// omitted-target: NAME` / `// omitted-dependency: NAME`
# line at its top, and it declares nothing Package.swift does not. Textual (no Swift needed):
# targets are the `name:` of `.target(`, `.testTarget(`, `.executableTarget(`, `.systemLibrary(`,
# `.binaryTarget(`, `.macro(` and `.plugin(name:capability:` calls; dependencies are the last path component of `.package(url:`.
#
# An omitted line naming what Package.swift no longer has is only a warning.
#
# Usage: Tools/aarch64/check_manifest.sh [PACKAGE_DIR]   (default: this repository)
# Exit 0: in step; 1: not, with what differs.
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"
python3 - <<'EOF'
import re, sys

def declared(path):
    text = open(path, encoding="utf-8").read()
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
    targets = set(re.findall(r'\.(?:target|testTarget|executableTarget|systemLibrary|binaryTarget|macro)\(\s*name:\s*"([^"]+)"', code))
    targets |= set(re.findall(r'\.plugin\(\s*name:\s*"([^"]+)",\s*capability:', code))  # not `.plugin(name:package:)` uses
    deps = {u.rstrip("/").split("/")[-1].removesuffix(".git")
            for u in re.findall(r'\.package\(\s*url:\s*"([^"]+)"', code)}
    deps |= set(re.findall(r'\.package\(\s*(?:name:\s*"[^"]*",\s*)?path:\s*"([^"]+)"', code))
    omitted_t = set(re.findall(r'^//\s*omitted-target:\s*(\S+)', text, re.M))
    omitted_d = set(re.findall(r'^//\s*omitted-dependency:\s*(\S+)', text, re.M))
    return targets, deps, omitted_t, omitted_d

t61, d61, _, _ = declared("Package.swift")
t60, d60, ot, od = declared("Package@swift-6.0.swift")
problems = []
for name in sorted(t61 - t60 - ot):
    problems.append(f"target {name} of Package.swift is missing from Package@swift-6.0.swift (add it, or an `// omitted-target: {name}  why` line)")
for name in sorted(d61 - d60 - od):
    problems.append(f"dependency {name} of Package.swift is missing from Package@swift-6.0.swift (add it, or an `// omitted-dependency: {name}  why` line)")
for name in sorted(t60 - t61):
    problems.append(f"target {name} of Package@swift-6.0.swift is not in Package.swift")
for name in sorted(d60 - d61):
    problems.append(f"dependency {name} of Package@swift-6.0.swift is not in Package.swift")
for name in sorted((ot & t60) | (od & d60)):
    problems.append(f"{name} is declared in Package@swift-6.0.swift and also listed as omitted")
for name in sorted((ot - t61) | (od - d61)):
    print(f"check_manifest: warning: omitted {name} is not in Package.swift: drop its line", file=sys.stderr)
for p in problems:
    print("check_manifest:", p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check_manifest: Package@swift-6.0.swift in step with Package.swift ({len(t60)} targets, "
      f"{len(d60)} dependencies; omitted: {', '.join(sorted(ot | od)) or 'none'})")
EOF
