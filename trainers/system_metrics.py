"""A cheap daemon sampler: system metrics under MLflow's own names, through the run's writer.

CPU %, system memory, this process's memory, and per GPU (NVML when ``pynvml`` imports, else
``torch.cuda`` when it is already imported and has a device) utilisation / memory / power /
temperature. No GPU: no GPU metrics and no error.
"""

from __future__ import annotations

import sys
import threading
import time

from trainers.metrics import SYSTEM_PREFIX


def _gpu_sample() -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        import pynvml

        pynvml.nvmlInit()
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            out[f"gpu_{i}_utilization_percentage"] = float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)
            out[f"gpu_{i}_memory_usage_megabytes"] = mem.used / 1e6
            out[f"gpu_{i}_memory_usage_percentage"] = 100.0 * mem.used / max(mem.total, 1)
            out[f"gpu_{i}_power_usage_watts"] = pynvml.nvmlDeviceGetPowerUsage(h) / 1000
            out[f"gpu_{i}_temperature_celsius"] = float(pynvml.nvmlDeviceGetTemperature(h, 0))
        return out
    except Exception:  # noqa: BLE001 - no NVML / no GPU: try torch, else nothing
        pass
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                free, total = torch.cuda.mem_get_info(i)
                out[f"gpu_{i}_memory_usage_megabytes"] = (total - free) / 1e6
                out[f"gpu_{i}_memory_usage_percentage"] = 100.0 * (total - free) / max(total, 1)
    except Exception:  # noqa: BLE001 - GPU memory is optional: a driver that cannot answer leaves it out
        pass
    return out


def sample(process) -> dict[str, float]:
    import psutil

    vm = psutil.virtual_memory()
    out = {
        "cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system_memory_usage_megabytes": vm.used / 1e6,
        "system_memory_usage_percentage": vm.percent,
        "process_memory_rss_megabytes": process.memory_info().rss / 1e6,
    }
    out.update(_gpu_sample())
    return {SYSTEM_PREFIX + k: float(v) for k, v in out.items()}


class SystemSampler(threading.Thread):
    def __init__(self, writer, interval_s: float = 5.0, first_step: int = 0):
        super().__init__(name="runboard-system-metrics", daemon=True)
        self.writer, self.interval_s, self._done = writer, interval_s, threading.Event()
        self.step = first_step  # the sample number, as MLflow's own system metrics count it

    def run(self) -> None:
        import psutil

        proc = psutil.Process()
        psutil.cpu_percent(interval=None)
        while True:
            ms = int(time.time() * 1000)
            try:
                points = [(k, v, ms, self.step) for k, v in sample(proc).items()]
                self.writer.add_points(points)
            except Exception:  # noqa: BLE001 - metrics must never end training
                pass
            self.step += 1
            if self._done.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=2)
