"""`mlobs gpu`: GPU health from NVML (live, or replayed from a recording) or from dcgm-exporter metrics.

source.py  the NVML surface behind one small interface: live (pynvml), replay (a recording file), recorder
read.py    NVML answers -> the typed GPU snapshot (report.py); one failing GPU never stops the others
dcgm.py    dcgm-exporter series in Prometheus -> the same snapshot, for every GPU of the fleet
judge.py   findings with severity and an action, from configurable thresholds
service.py the steps a command runs: open the source, read, judge
"""
