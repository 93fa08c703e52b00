"""The deployment files, checked without a Docker engine: the Dockerfile, .dockerignore and
docker-compose.yml are parsed and held against each other and the Makefile, the image's health
check runs against a loopback server, and scripts/install.sh runs against a stand-in virtualenv
whose python records what pip was asked instead of installing anything."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.http_server import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "scripts/install.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PACKAGES = ("corpus", "retrieval", "bot")


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: tuple[str, ...]  # leading options: RUN --mount=…, HEALTHCHECK --interval=…
    rest: str


@cache
def dockerfile() -> tuple[Instruction, ...]:
    """The instructions, continuation lines joined and comments dropped."""
    instructions = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        keyword, _, rest = (pending + text).partition(" ")
        pending = ""
        flags = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        instructions.append(Instruction(keyword.upper(), tuple(flags), rest))
    assert not pending, "the Dockerfile ends on a continued line"
    return tuple(instructions)


def positions(keyword: str) -> list[int]:
    return [n for n, step in enumerate(dockerfile()) if step.keyword == keyword]


@dataclass(frozen=True)
class ScriptRun:
    """A RUN that calls the install script: its variables, the command, where it stands."""

    position: int
    env: dict[str, str]
    argv: list[str]


def script_runs() -> list[ScriptRun]:
    runs = []
    for n in positions("RUN"):
        words = shlex.split(dockerfile()[n].rest)
        env: dict[str, str] = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if SCRIPT in words:
            runs.append(ScriptRun(n, env, words))
    return runs


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for n in positions("ENV"):
        for word in shlex.split(dockerfile()[n].rest):
            name, equals, value = word.partition("=")
            assert equals, f"ENV {word}: use the NAME=value form"
            env[name] = value
    return env


def copies() -> list[tuple[int, list[str], str]]:
    """(position, sources, destination) of each COPY."""
    found = []
    for n in positions("COPY"):
        *sources, destination = shlex.split(dockerfile()[n].rest)
        found.append((n, [s.rstrip("/") or "." for s in sources], destination))
    return found


def deps_run() -> ScriptRun:
    (run,) = [r for r in script_runs() if r.env.get("INSTALL_ONLY") == "deps"]
    return run


def test_every_install_in_the_image_is_the_script_make_and_ci_run(tmp_path: Path) -> None:
    runs = script_runs()
    assert [r.env.get("INSTALL_ONLY") for r in runs] == ["deps", "project"]
    assert {r.argv[0] for r in runs} == {SCRIPT}
    assert len({r.env["VENV"] for r in runs}) == 1, "both steps must fill one virtualenv"
    for n in positions("RUN"):
        rest = dockerfile()[n].rest
        assert "pip install" not in rest and "make " not in rest, (
            f"install outside the script: {rest}"
        )

    # make install / install-dev, which .ci/run calls, run the same script.
    venv = tmp_path / "venv"
    planned = subprocess.run(
        ["make", "-n", "install-dev", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert f"VENV={venv} {SCRIPT}" in planned
    assert f"VENV={venv} EXTRAS=dev {SCRIPT}" in planned
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()]
    assert "make lint" in ci and "make test" in ci


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    deps = deps_run()
    (project,) = [r for r in script_runs() if r.env.get("INSTALL_ONLY") == "project"]
    before = [s for n, sources, _ in copies() if n < deps.position for s in sources]
    # Anything else copied before the dependency layer would rebuild it on every code edit.
    assert sorted(before) == ["pyproject.toml", SCRIPT]
    for package in PACKAGES:
        where = [n for n, sources, _ in copies() if package in sources or "." in sources]
        assert where, f"{package}/ is never copied"
        assert deps.position < min(where) < project.position


def test_the_dependency_layer_builds_from_the_files_copied_before_it(tmp_path: Path) -> None:
    """The deps step runs in a directory holding only what the Dockerfile copied so far."""
    workdir = tmp_path / "app"
    deps = deps_run()
    for n, sources, destination in copies():
        if n > deps.position:
            break
        for source in sources:
            target = workdir / destination
            if destination.endswith("/"):
                target /= Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)
    venv = FakeVenv(tmp_path / "venv")
    env = deps.env | {"VENV": str(venv.root)}
    done = venv.run(env, cwd=workdir, argv=deps.argv)
    assert done.returncode == 0, done.stderr
    assert venv.torch_call()[-1] == f"torch=={default_torch_version()}"
    pyproject = tomllib.loads((workdir / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(pyproject["project"]["dependencies"]) <= set(venv.requirements())
    assert not [c for c in venv.pip_calls() if "-e" in c]


def test_the_image_runs_briefbot_unprivileged_with_its_store_in_a_volume() -> None:
    steps = dockerfile()
    (cmd,) = positions("CMD")
    assert json.loads(steps[cmd].rest) == ["briefbot", "run"]
    users = [steps[n].rest for n in positions("USER") if n < cmd]
    assert users, "no USER before CMD: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")

    env = image_env()
    assert env["BRIEFBOT_DATA_DIR"] == "/data"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["PATH"].startswith(f"{deps_run().env['VENV']}/bin:")
    (volume,) = positions("VOLUME")
    assert json.loads(steps[volume].rest) == ["/data"]
    # Changes to a path after it is declared a VOLUME are thrown away: chown before.
    owners = [n for n in positions("RUN") if re.search(rf"chown \S*{user}\S* /data", steps[n].rest)]
    assert owners and owners[0] < volume


def test_the_health_check_asks_healthz_on_the_metrics_port(http_server: LoopbackServer) -> None:
    env = image_env()
    port = env["BRIEFBOT_METRICS__PORT"]
    assert env["BRIEFBOT_METRICS__HOST"] == "0.0.0.0"
    exposed = [p for n in positions("EXPOSE") for p in dockerfile()[n].rest.split()]
    assert port in exposed and "3000" in exposed

    (n,) = positions("HEALTHCHECK")
    check = dockerfile()[n]
    options = {flag.removeprefix("--").partition("=")[0] for flag in check.flags}
    assert {"interval", "timeout", "start-period"} <= options
    kind, _, command = check.rest.partition(" ")
    assert kind == "CMD"
    argv = json.loads(command)
    assert argv[0] == f"{deps_run().env['VENV']}/bin/python"  # slim images have no curl
    assert "http://127.0.0.1:" in argv[-1] and port in argv[-1]

    # Run it for real (on this interpreter) against a stand-in for the bot's health server.
    def probe() -> int:
        environment = os.environ | {"BRIEFBOT_METRICS__PORT": str(http_server.port)}
        return subprocess.run(
            [sys.executable, *argv[1:]], env=environment, capture_output=True, timeout=30
        ).returncode

    http_server.routes["/healthz"] = Reply(status=200, body=b'{"status": "ok"}')
    assert probe() == 0
    http_server.routes["/healthz"] = Reply(status=503, body=b'{"status": "unavailable"}')
    assert probe() != 0
    assert [r.path for r in http_server.requests] == ["/healthz", "/healthz"]


# --- .dockerignore ----------------------------------------------------------------------------


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _glob(pattern: str) -> re.Pattern[str]:
    regex = ""
    rest = pattern.strip("/")
    while rest:
        if rest.startswith("**/"):
            regex, rest = regex + "(?:.*/)?", rest[3:]
        elif rest.startswith("**"):
            regex, rest = regex + ".*", rest[2:]
        elif rest[0] == "*":
            regex, rest = regex + "[^/]*", rest[1:]
        elif rest[0] == "?":
            regex, rest = regex + "[^/]", rest[1:]
        else:
            regex, rest = regex + re.escape(rest[0]), rest[1:]
    return re.compile(regex)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent directories
    decides; ``!`` takes a path back in; ``**`` spans directories."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        if any(_glob(pattern.removeprefix("!")).fullmatch(p) for p in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


def test_the_ignore_matcher_follows_dockers_rules() -> None:
    assert dockerignored("README.md", ["*.md"])
    assert not dockerignored("corpus/README.md", ["*.md"])
    assert dockerignored("corpus/README.md", ["**/*.md"])
    assert dockerignored("data/index/vectors.faiss", ["data/"])
    assert not dockerignored("README.md", ["*.md", "!README.md"])


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    patterns = ignore_patterns()
    for path in (
        ".env",
        ".env.production",
        "data/briefbot.sqlite3",
        "data/index/vectors.faiss",
        "elsewhere/briefbot.sqlite3-wal",
        ".venv/bin/python",
        ".git/HEAD",
        "briefbot.egg-info/PKG-INFO",
        "bot/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/3.11/cache.db",
    ):
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    # …while everything the Dockerfile copies is still there.
    for _, sources, _ in copies():
        for source in sources:
            top = ROOT / source
            files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
            for file in files:
                name = file.relative_to(ROOT).as_posix()
                if "__pycache__" not in name:
                    assert not dockerignored(name, patterns), f"{name} is needed by the build"


# --- docker-compose.yml -----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return loaded


def bot_service() -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    assert "bot" in services
    bot: dict[str, Any] = services["bot"]
    return bot


def mount(entry: str | dict[str, Any]) -> tuple[str, str]:
    """(source, target) of one `volumes` entry, short or long syntax."""
    if isinstance(entry, dict):
        return str(entry["source"]), str(entry["target"])
    source, target, *_ = entry.split(":")
    return source, target


def published(entry: object) -> tuple[str | None, str]:
    """(host address, container port) of one `ports` entry; no address means every interface."""
    if isinstance(entry, dict):
        return entry.get("host_ip"), str(entry["target"])
    # An unquoted 9108:9108 is a YAML 1.1 base-60 integer, not a string: it fails below.
    text = str(entry).partition("/")[0]
    if text.startswith("["):
        host, _, ports = text[1:].partition("]:")
        return host, ports.rpartition(":")[2]
    parts = text.split(":")
    return (parts[0] if len(parts) == 3 else None), parts[-1]


def test_compose_builds_the_image_and_keeps_the_store_in_a_named_volume() -> None:
    bot = bot_service()
    build = bot["build"] if isinstance(bot["build"], dict) else {"context": bot["build"]}
    dockerfile_path = ROOT / build["context"] / build.get("dockerfile", "Dockerfile")
    assert dockerfile_path.resolve() == ROOT / "Dockerfile"

    assert ("briefbot-data", "/data") in [mount(v) for v in bot["volumes"]]
    assert "briefbot-data" in compose()["volumes"]
    # environment wins over env_file, so a local .env cannot move the store off the volume.
    assert bot["environment"]["BRIEFBOT_DATA_DIR"] == "/data"
    assert {"path": ".env", "required": False} in bot["env_file"]
    assert bot["restart"] in ("always", "unless-stopped", "on-failure")
    health = bot.get("healthcheck", {})
    assert not health.get("disable"), "the image's health check must stay on"
    assert "test" not in health or "/healthz" in str(health["test"])


def test_compose_publishes_the_metrics_port_on_loopback_only() -> None:
    bot = bot_service()
    ports = [published(p) for p in bot.get("ports", [])]
    for host, port in ports:
        assert host in ("127.0.0.1", "::1"), f"port {port} is published on every interface"
    metrics = str(bot["environment"].get("BRIEFBOT_METRICS__PORT"))
    assert metrics == image_env()["BRIEFBOT_METRICS__PORT"]
    assert ("127.0.0.1", metrics) in ports


def test_compose_runs_two_replicas_on_one_postgresql() -> None:
    services: dict[str, Any] = compose()["services"]
    postgres, bot = services["postgres"], bot_service()
    assert "pgvector" in postgres["image"]
    assert "ports" not in postgres, "the database is for the bots only"
    assert "pg_isready" in str(postgres["healthcheck"]["test"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = bot["environment"]["BRIEFBOT_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    assert bot["deploy"]["replicas"] >= 2
    assert ("postgres-data", "/var/lib/postgresql/data") in [mount(v) for v in postgres["volumes"]]


# --- scripts/install.sh -----------------------------------------------------------------------


def default_torch_version() -> str:
    text = (ROOT / SCRIPT).read_text(encoding="utf-8")
    match = re.search(r'TORCH_VERSION="\$\{TORCH_VERSION:-([^}]+)\}"', text)
    assert match, "TORCH_VERSION is not overridable"
    return match.group(1)


class FakeVenv:
    """A virtualenv whose python records every `-m pip` call (and the requirements file it
    names) and succeeds without installing; other calls — the version check, reading
    pyproject.toml — go to the real interpreter. ``FAIL_ON`` makes the pip call holding
    that argument fail."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = root / "calls.log"
        self.requirements_log = root / "requirements.log"
        python = root / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(
            f"""#!/usr/bin/env bash
if [ "${{1-}}" = -m ] && [ "${{2-}}" = pip ]; then
  {{ printf '%s\\x1f' "$@"; printf '\\n'; }} >>{shlex.quote(str(self.calls))}
  previous=
  for arg in "$@"; do
    if [ "$previous" = -r ]; then cat "$arg" >>{shlex.quote(str(self.requirements_log))}; fi
    if [ -n "${{FAIL_ON-}}" ] && [ "$arg" = "$FAIL_ON" ]; then exit 1; fi
    previous="$arg"
  done
  exit 0
fi
exec {shlex.quote(sys.executable)} "$@"
""",
            encoding="utf-8",
        )
        python.chmod(0o755)

    def run(
        self, env: dict[str, str], *, cwd: Path = ROOT, argv: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        settings = ("VENV", "EXTRAS", "TORCH_VERSION", "TORCH_INDEX_URL", "INSTALL_ONLY")
        environment = {k: v for k, v in os.environ.items() if k not in settings}
        environment |= {"VENV": str(self.root)} | env
        return subprocess.run(
            argv or [SCRIPT],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def pip_calls(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        lines = self.calls.read_text(encoding="utf-8").splitlines()
        # Each call is `-m pip install …`; keep what follows `install`.
        return [line.split("\x1f")[3:-1] for line in lines]

    def torch_call(self) -> list[str]:
        (call,) = [c for c in self.pip_calls() if c and c[-1].startswith("torch==")]
        return call

    def requirements(self) -> list[str]:
        return self.requirements_log.read_text(encoding="utf-8").splitlines()


def option(call: list[str], name: str) -> str | None:
    return call[call.index(name) + 1] if name in call else None


@pytest.fixture
def venv(tmp_path: Path) -> FakeVenv:
    return FakeVenv(tmp_path / "venv")


def test_the_install_script_is_valid_bash() -> None:
    assert subprocess.run(["bash", "-n", str(ROOT / SCRIPT)]).returncode == 0


def test_torch_comes_from_pytorchs_cpu_index_by_default(venv: FakeVenv) -> None:
    done = venv.run({})
    assert done.returncode == 0, done.stderr
    calls = venv.pip_calls()
    torch = venv.torch_call()
    assert torch in calls
    assert torch[-1] == "torch==2.13.0"
    assert option(torch, "--index-url") == CPU_INDEX
    # The unreachable-index cost is cut for this one call only.
    assert int(option(torch, "--retries") or 5) < 5
    # Everything else comes from whatever index pip is configured with (PyPI on a stock machine).
    for call in calls:
        if call != torch:
            assert not {"--index-url", "--extra-index-url", "-i"} & set(call), call
    assert calls.index(torch) < calls.index(next(c for c in calls if "-r" in c))
    assert calls[-1][-2:] == ["-e", "."]


def test_torch_index_and_version_can_be_overridden(venv: FakeVenv) -> None:
    cuda = "https://download.pytorch.org/whl/cu128"
    done = venv.run({"TORCH_INDEX_URL": cuda, "TORCH_VERSION": "2.12.1"})
    assert done.returncode == 0, done.stderr
    torch = venv.torch_call()
    assert torch[-1] == "torch==2.12.1"
    assert option(torch, "--index-url") == cuda
    assert CPU_INDEX not in [arg for call in venv.pip_calls() for arg in call]


def test_an_empty_torch_index_leaves_the_choice_to_pip(venv: FakeVenv) -> None:
    assert venv.run({"TORCH_INDEX_URL": ""}).returncode == 0
    assert "--index-url" not in venv.torch_call()


def test_the_dependencies_are_read_from_pyproject(venv: FakeVenv) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert venv.run({"EXTRAS": "dev"}).returncode == 0
    wanted = [
        *pyproject["build-system"]["requires"],
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
    ]
    assert venv.requirements() == wanted


def test_an_unknown_extra_is_refused_before_anything_is_installed(venv: FakeVenv) -> None:
    done = venv.run({"EXTRAS": "dev,gpu"})
    assert done.returncode != 0
    assert "'gpu'" in done.stderr
    assert not [c for c in venv.pip_calls() if "-r" in c or "-e" in c]


def test_install_only_splits_the_install_where_the_dockerfile_does(tmp_path: Path) -> None:
    deps = FakeVenv(tmp_path / "deps")
    assert deps.run({"INSTALL_ONLY": "deps"}).returncode == 0
    assert deps.torch_call()
    assert [c for c in deps.pip_calls() if "-r" in c]
    assert not [c for c in deps.pip_calls() if "-e" in c]

    project = FakeVenv(tmp_path / "project")
    assert project.run({"INSTALL_ONLY": "project"}).returncode == 0
    (call,) = project.pip_calls()
    # Offline and quick: nothing resolved, no isolated build environment to download.
    assert {"--no-deps", "--no-build-isolation"} <= set(call)
    assert call[-2:] == ["-e", "."]

    bogus = FakeVenv(tmp_path / "bogus")
    done = bogus.run({"INSTALL_ONLY": "everything"})
    assert done.returncode != 0 and "INSTALL_ONLY" in done.stderr
    assert bogus.pip_calls() == []


def test_a_failed_step_stops_the_install(venv: FakeVenv) -> None:
    done = venv.run({"FAIL_ON": "torch==2.13.0"})
    assert done.returncode != 0
    assert venv.pip_calls()[-1][-1] == "torch==2.13.0", "the install went on after torch failed"
