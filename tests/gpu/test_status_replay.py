"""`mlobs gpu status --replay`: the real H200 recording, checked against nvidia-smi at the same moment, and the
recordings derived from it for each failure (gpu_scenarios.py)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from gpu_scenarios import FIXTURES, TORCH, scenario

MIB = 1 << 20


@pytest.fixture
def replay(cli, tmp_path):
    """replay(name, *args, expect=...) -> the JSON report of `gpu status --replay` on that scenario."""
    def run(name, *args, expect=None, env=None):
        path = FIXTURES / f"nvml-{name}.json" if name in ("load", "idle") else scenario(name, tmp_path)
        return cli.json("gpu", "status", "--replay", path, *args, expect=expect, env=env)
    return run


def smi_query(kind: str) -> dict[str, str]:
    with (FIXTURES / f"nvidia-smi-query-{kind}.csv").open() as f:
        return {k.strip(): v.strip() for k, v in next(csv.DictReader(f, skipinitialspace=True)).items()}


def smi_xml(kind: str) -> ET.Element:
    return ET.parse(FIXTURES / f"nvidia-smi-q-{kind}.xml").getroot()


def number(text: str) -> float:
    return float(text.split()[0])


@pytest.mark.parametrize("kind", ["idle", "load"])
def test_the_real_h200_matches_nvidia_smi_at_the_same_moment(replay, kind):
    report = replay(kind, expect=1 if kind == "load" else 0)
    smi, root = smi_query(kind), smi_xml(kind)
    xml = root.find("gpu")
    (gpu,) = report["gpus"]
    assert report["complete"] and report["source"]["kind"] == "replay"
    assert report["driver_version"] == "580.159.04" == root.find("driver_version").text
    assert report["cuda_driver_version"] == "13.0" == root.find("cuda_version").text
    assert (gpu["index"], gpu["name"], gpu["uuid"]) == (int(smi["index"]), smi["name"], smi["uuid"])
    assert gpu["utilization_gpu"] == number(smi["utilization.gpu [%]"])
    assert gpu["utilization_memory"] == number(smi["utilization.memory [%]"])
    # nvidia-smi shows NVML memory v2 in whole MiB
    assert abs(gpu["memory"]["total"] / MIB - number(smi["memory.total [MiB]"])) < 1
    assert abs(gpu["memory"]["used"] / MIB - number(smi["memory.used [MiB]"])) < 1
    assert abs(gpu["memory"]["reserved"] / MIB - number(xml.find("fb_memory_usage/reserved").text)) < 1
    assert gpu["memory"]["api"] == "v2"
    assert gpu["temperature"]["gpu"] == int(smi["temperature.gpu"])
    assert gpu["power"]["limit_w"] == number(smi["power.limit [W]"])
    assert gpu["power"]["draw_w"] == pytest.approx(number(smi["power.draw [W]"]), rel=0.02)  # average vs instant
    assert gpu["clocks"]["event_reasons"] == int(smi["clocks_event_reasons.active"], 16)
    assert f"P{gpu['performance_state']}" == smi["pstate"]
    assert gpu["ecc"]["uncorrected_volatile"] == int(smi["ecc.errors.uncorrected.volatile.total"])
    assert gpu["clocks"]["sm_max_mhz"] == number(xml.find("max_clocks/sm_clock").text)
    assert gpu["pcie"]["generation_max"] == int(xml.find("pci/pci_gpu_link_info/pcie_gen/max_link_gen").text)
    assert gpu["pcie"]["width"] == int(xml.find("pci/pci_gpu_link_info/link_widths/current_link_width").text[:-1])
    assert gpu["persistence_mode"] is (xml.find("persistence_mode").text == "Enabled")
    assert gpu["xid_events"] == []  # the 10 ms wait timed out: none seen, which is not unknown


def test_processes_match_nvidia_smi(replay):
    (gpu,) = replay("load", expect=1)["gpus"]
    with (FIXTURES / "nvidia-smi-apps-load.csv").open() as f:
        (app,) = [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f, skipinitialspace=True)]
    (proc,) = gpu["processes"]
    assert proc["pid"] == int(app["pid"])
    assert proc["used_memory"] / MIB == number(app["used_gpu_memory [MiB]"])
    # this recording was made before mlobs recorded /proc: known to be unknown, still listed
    assert proc["visible"] is None and proc["shown_name"] == "(not recorded)"
    assert replay("idle", expect=0)["gpus"][0]["processes"] == []


@pytest.mark.parametrize(("name", "exit_code", "expected"), [
    pytest.param("load", 1, {("gpu/utilization", "alert"), ("gpu/throttling", "warn")},
                 id="h200 under load: saturated, power-capped at 693 of 700 W"),
    pytest.param("idle", 0, {("gpu/utilization", "warn")}, id="h200 idle: underused"),
    pytest.param("ecc-errors", 1, {("gpu/utilization", "alert"), ("gpu/throttling", "warn"), ("gpu/ecc", "alert")},
                 id="uncorrectable ECC errors"),
    pytest.param("pending-remap", 1, {("gpu/utilization", "alert"), ("gpu/throttling", "warn"),
                                      ("gpu/remapped-rows", "alert")}, id="pending row remap"),
    pytest.param("thermal-slowdown", 1, {("gpu/utilization", "alert"), ("gpu/throttling", "alert"),
                                         ("gpu/temperature", "alert")}, id="thermal slowdown"),
    pytest.param("xid", 1, {("gpu/utilization", "alert"), ("gpu/throttling", "warn"), ("gpu/xid", "alert")},
                 id="xid 79 during the wait"),
    pytest.param("persistence-off", 0, {("gpu/utilization", "warn"), ("gpu/persistence", "info")},
                 id="persistence mode off"),
    pytest.param("mig-enabled", 0, {("gpu/throttling", "warn")}, id="mig: no utilization to judge"),
    pytest.param("consumer-card", 0, {("gpu/utilization", "warn")}, id="not supported fields judge nothing"),
])
def test_findings_of_each_recording(replay, name, exit_code, expected):
    report = replay(name, expect=exit_code)
    assert {(f["check"], f["severity"]) for f in report["findings"]} == expected
    assert all(f["subject"] == "GPU 0" for f in report["findings"])


def test_pcie_downgraded_under_load_warns_for_width_and_generation(replay):
    findings = [f for f in replay("pcie-downgraded", expect=1)["findings"] if f["check"] == "gpu/pcie"]
    assert [f["message"].split(":")[0] for f in findings] == ["PCIe link x8 of x16", "PCIe gen 3 of 5 under load"]


def test_remap_failure_and_pending_are_each_an_alert(replay):
    report = replay("remap-failure", expect=1)
    (finding,) = [f for f in report["findings"] if f["check"] == "gpu/remapped-rows"]
    assert "could not be remapped" in finding["message"] and finding["severity"] == "alert"
    assert report["gpus"][0]["remapped_rows"] == {"corrected": 0, "uncorrected": 3, "pending": False, "failure": True}


@pytest.mark.parametrize(("name", "message"), [
    ("no-driver", "NVML not found: no NVIDIA driver is installed here"),
    ("driver-not-loaded", "the NVIDIA driver is not loaded"),
    ("version-mismatch", "NVIDIA driver/library version mismatch"),
    ("no-permission", "no permission to use NVML"),
])
def test_nvml_that_cannot_be_used_is_one_line_and_exit_3(cli, tmp_path, name, message):
    result = cli("gpu", "status", "--replay", scenario(name, tmp_path))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"mlobs: error: {message}") and result.stderr.count("\n") == 1


def test_one_lost_gpu_of_eight_is_reported_and_the_others_still_are(replay):
    report = replay("eight-gpus-one-lost", expect=1)
    gpus = report["gpus"]
    assert [g["index"] for g in gpus] == list(range(8))
    lost = gpus[3]
    assert lost["lost"] is True and "GPU is lost" in lost["error"]
    assert lost["memory"]["total"] is None and lost["utilization_gpu"] is None
    assert all(g["error"] is None and g["memory"]["total"] == 150754820096 for g in gpus if g["index"] != 3)
    assert [f["subject"] for f in report["findings"] if f["check"] == "gpu/lost"] == ["GPU 3"]
    assert report["complete"]


def test_a_gpu_that_cannot_be_read_leaves_the_result_incomplete(cli, tmp_path):
    """Not lost (that is a finding), but unreadable: its row says why, and the run cannot exit 0."""
    data = json.loads(scenario("eight-gpus-one-lost", tmp_path).read_text())
    data["devices"][5] = {"nvmlDeviceGetHandleByIndex": {"error": "Insufficient Permissions", "code": 4}}
    path = tmp_path / "unreadable.json"
    path.write_text(json.dumps(data))
    result = cli("gpu", "status", "--replay", path, "--gpu", "5", "-o", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 3 and not report["complete"]
    assert report["gpus"][0]["error"] == "cannot get its NVML handle: Insufficient Permissions"
    assert report["errors"] == [{"backend": "nvml", "message": "GPU 5: cannot get its NVML handle: Insufficient "
                                                               "Permissions"}]


def test_an_unexpected_nvml_error_leaves_the_field_unknown_and_the_result_incomplete(cli, tmp_path):
    result = cli("gpu", "status", "--replay", scenario("corrupted-inforom", tmp_path), "-o", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 3  # no finding at or above alert, and a partial result never exits 0
    assert not report["complete"]
    assert report["errors"] == [{"backend": "nvml", "message": "GPU 0: nvmlDeviceGetEccMode: Corrupted infoROM"}]
    assert report["gpus"][0]["ecc"]["enabled"] is None and report["gpus"][0]["memory"]["total"] == 150754820096
    assert result.stderr == "mlobs: warning: nvml: GPU 0: nvmlDeviceGetEccMode: Corrupted infoROM\n"


def test_a_gpu_lost_in_the_middle_of_the_reads_keeps_its_name(replay):
    (gpu,) = replay("lost-mid-read", expect=1)["gpus"]
    assert gpu["lost"] and gpu["name"] == "NVIDIA H200" and gpu["error"] == "NVML: Unknown Error"


def test_mig_instances_and_unsupported_utilization(replay, cli, tmp_path):
    (gpu,) = replay("mig-enabled", expect=0)["gpus"]
    assert gpu["utilization_gpu"] is None and gpu["utilization_memory"] is None
    assert gpu["mig"]["enabled"] is True
    assert [(m["index"], m["gpu_instance_id"], m["memory_used"]) for m in gpu["mig"]["instances"]] == [
        (0, 1, 20 << 30), (1, 2, 1 << 30)]
    assert gpu["processes"][0]["gpu_instance_id"] == 1
    table = cli("gpu", "status", "--replay", tmp_path / "mig-enabled.json", env={"COLUMNS": "200"}).stdout
    row = next(line for line in table.splitlines() if line.strip().startswith("0  NVIDIA H200"))
    assert " n/a " in row and "MIG instances" in table and "3g.71gb" in table


@pytest.mark.parametrize(("name", "shown"), [
    ("other-pid-namespace", f"{TORCH} (not visible from this container)"),
    ("pid-reused-in-container", f"{TORCH} (not visible from this container)"),
])
def test_a_process_this_container_cannot_see_is_listed_not_dropped(replay, name, shown):
    (proc,) = replay(name, expect=1)["gpus"][0]["processes"]
    assert (proc["pid"], proc["visible"], proc["shown_name"]) == (424, False, shown)
    assert proc["used_memory"] == 44134563840 and proc["command"] is None and proc["model"] is None


def test_a_secret_in_a_recorded_command_line_is_never_shown(cli, tmp_path):
    """A recording made by another tool (or by hand) may hold `--api-key`: shown masked, in JSON and the table."""
    data = json.loads(scenario("vllm-process", tmp_path).read_text())
    data["processes"]["424"]["cmdline"]["ok"] += ["--api-key", "sk-live-123", "--hf-token=hf_abc"]
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(data))
    (proc,) = cli.json("gpu", "status", "--replay", path, expect=1)["gpus"][0]["processes"]
    assert proc["command"].endswith("--port 8000 --api-key **** --hf-token=****")
    table = cli("gpu", "status", "--replay", path, env={"COLUMNS": "300"}).stdout
    assert "sk-live-123" not in table and "hf_abc" not in table and "--api-key ****" in table


def test_a_process_that_exits_between_reads_is_still_listed(cli, tmp_path):
    """Its command line was read, then it exited before its environment was: listed, never an internal error."""
    data = json.loads(scenario("vllm-process", tmp_path).read_text())
    data["processes"]["424"]["environ"] = {"error": "No such process", "errno": 3}
    path = tmp_path / "exited.json"
    path.write_text(json.dumps(data))
    report = cli.json("gpu", "status", "--replay", path, expect=1)
    (proc,) = report["gpus"][0]["processes"]
    assert proc["visible"] is True and proc["model"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_the_model_a_process_serves(replay, tmp_path):
    (proc,) = replay("vllm-process", expect=1)["gpus"][0]["processes"]
    assert proc["visible"] is True and proc["command"].startswith(f"{TORCH} -m vllm.entrypoints")
    assert proc["model"] == "llama-8b-prod"  # SERVED_MODEL_NAME, a variable of gpu.model_env, comes first
    no_env = {"MLOBS_GPU_MODEL_ENV": "[]"}
    (proc,) = replay("vllm-process", expect=1, env=no_env)["gpus"][0]["processes"]
    assert proc["model"] == "meta-llama/Llama-3.1-8B-Instruct"  # vLLM's --model
    config = tmp_path / "mlobs.yaml"
    config.write_text("gpu:\n  models:\n    chat-8b: 'vllm\\..*Llama-3\\.1-8B'\n    other: 'sglang'\n")
    (proc,) = replay("vllm-process", "--config", config, expect=1, env=no_env)["gpus"][0]["processes"]
    assert proc["model"] == "chat-8b"


def test_an_invalid_model_pattern_is_a_config_error(cli, tmp_path):
    config = tmp_path / "mlobs.yaml"
    config.write_text("gpu:\n  models:\n    broken: '(unclosed'\n")
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-load.json", "--config", config)
    assert result.exit_code == 2 and "gpu.models: the pattern of 'broken'" in result.stderr


def test_an_old_driver_falls_back_to_memory_v1_and_throttle_reasons(replay):
    (gpu,) = replay("old-driver", expect=1)["gpus"]
    assert gpu["memory"]["api"] == "v1" and gpu["memory"]["reserved"] is None
    assert gpu["memory"]["used"] == 44788744192  # v1 counts the reserved memory as used
    assert gpu["clocks"]["event_reasons"] == 4 and gpu["clocks"]["events"] == ["sw_power_cap"]
    assert any("memory v1" in note for note in gpu["notes"])


def test_unsupported_fields_are_null_in_json_and_na_in_the_table(replay, cli, tmp_path):
    (gpu,) = replay("consumer-card", expect=0)["gpus"]
    assert gpu["power"] == {"draw_w": None, "limit_w": None}
    assert gpu["ecc"]["enabled"] is None and gpu["ecc"]["uncorrected_volatile"] is None
    assert gpu["remapped_rows"]["pending"] is None and gpu["processes"] is None
    table = cli("gpu", "status", "--replay", tmp_path / "consumer-card.json", env={"COLUMNS": "200"}).stdout
    row = next(line for line in table.splitlines() if line.strip().startswith("0  NVIDIA H200"))
    assert "\x1b[" not in table  # NO_COLOR
    assert row.split()[-1] == "n/a"  # processes: NotSupported is unknown, not none
    assert "W" not in row and "n/a" in row.split("GiB", 1)[1]  # the power column
    assert "ECC n/a" in table and "remapped rows" not in table


@pytest.mark.parametrize(("select", "indexes"), [
    (["3"], [3]), (["0,7"], [0, 7]), (["GPU-1fe069ad-b11b-d233-9269-919fea2811e5"], [5]),
])
def test_select_gpus_by_index_or_uuid(replay, select, indexes):
    args = [a for s in select for a in ("--gpu", s)]
    report = replay("eight-gpus-one-lost", *args)
    assert [g["index"] for g in report["gpus"]] == indexes


@pytest.mark.parametrize(("gpu", "message"), [
    ("8", "--gpu 8: there is no such GPU here (indexes 0 to 7)"),
    ("GPU-nope", "--gpu GPU-nope: no GPU has this UUID"),
    ("GPU-1fe069ad", "--gpu GPU-1fe069ad: more than one GPU has this UUID"),
])
def test_a_gpu_that_is_not_there_is_a_usage_error(cli, tmp_path, gpu, message):
    result = cli("gpu", "status", "--replay", scenario("eight-gpus-one-lost", tmp_path), "--gpu", gpu)
    assert result.exit_code == 2 and result.stderr.strip() == f"mlobs: error: {message}"


@pytest.mark.parametrize(("args", "exit_code"), [
    ([], 0), (["--fail-on", "warn"], 1), (["--fail-on", "info"], 1), (["--exit-zero", "--fail-on", "info"], 0),
])
def test_fail_on(cli, args, exit_code):
    assert cli("gpu", "status", "--replay", FIXTURES / "nvml-idle.json", *args).exit_code == exit_code


def test_fail_on_from_the_environment(cli):
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-idle.json", env={"MLOBS_GPU_FAIL_ON": "warn"})
    assert result.exit_code == 1


def test_csv_has_one_row_per_gpu(cli, tmp_path):
    result = cli("gpu", "status", "--replay", scenario("eight-gpus-one-lost", tmp_path), "-o", "csv")
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert len(rows) == 8 and rows[3]["error"] and rows[3]["memory_total"] == ""
    assert rows[0]["memory_total"] == "150754820096" and rows[0]["clock_events"] == "sw_power_cap"


@pytest.mark.parametrize(("args", "message"), [
    (["--watch", "1", "-o", "json"], "--watch redraws a table in the terminal: use it with -o table"),
    (["--watch", "0.01"], "Invalid value for '--watch': 0.01 is not in the range 0.1<=x<=86400.0"),
    (["--prometheus", "http://127.0.0.1:1"], "--replay and --prometheus exclude each other"),
])
def test_options_that_do_not_go_together(cli, args, message):
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-idle.json", *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read recording"), ("{not json", "is not an NVML recording (not JSON"),
    ('{"devices": []}', "is not an NVML recording (no `system` object"),
    ('{"system": {}}', "the recording has no `system.device_count`"),
    ('{"system": {"device_count": {"ok": "1"}}}', "`system.device_count` is '1': not a number of GPUs"),
    ('{"system": {"device_count": {"ok": 1}}, "devices": [{"nvmlDeviceGetName": "H200"}]}',
     "`nvmlDeviceGetName` is 'H200', not an answer of the recording format"),
])
def test_a_file_that_is_not_a_recording(cli, tmp_path, content, message):
    path = tmp_path / "rec.json"
    if content is not None:
        path.write_text(content)
    result = cli("gpu", "status", "--replay", path)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["status"], ["record"]])
def test_help_has_an_example(cli, command):
    result = cli("gpu", *command, "--help")
    assert result.exit_code == 0
    assert "mlobs gpu " in result.stdout.split("Example:")[1] and "--output" in result.stdout


def test_the_status_path_imports_no_numeric_http_or_terminal_library():
    """numpy, scipy and DuckDB would double the time of a check; httpx is for --prometheus; -o json draws nothing."""
    code = ("import sys\nfrom mlobs_cli.app import main\n"
            f"sys.argv = ['mlobs', 'gpu', 'status', '--replay', {str(FIXTURES / 'nvml-load.json')!r}, '-o', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'scipy', 'duckdb', 'httpx', 'rich') if m in sys.modules), "
            "file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout)["gpus"][0]["name"] == "NVIDIA H200"
    assert result.stderr.strip() == "[]"



def test_findings_name_the_gpu_by_index_and_uuid(cli):
    """Issue 12 §4: indexes change across reboots; the UUID is what DCGM and the fleet use."""
    path = FIXTURES / "nvml-load.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))["devices"][0]["nvmlDeviceGetUUID"]["ok"]
    out = cli.json("gpu", "status", "--replay", path)
    assert out["findings"] and all(f["uuid"] == recorded and f["index"] == 0 for f in out["findings"])


def test_the_table_names_each_finding_s_gpu_by_uuid_too(cli):
    path = FIXTURES / "nvml-load.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))["devices"][0]["nvmlDeviceGetUUID"]["ok"]
    result = cli("gpu", "status", "--replay", path, "--exit-zero", "-o", "table")
    text = " ".join(result.stdout.split())  # the lines of a finding wrap at 80 columns off a terminal
    for check in ("gpu/utilization", "gpu/throttling"):
        assert f"[{check}] {recorded}" in text
