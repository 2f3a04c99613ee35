"""The parts of bench/embedded_load.py (the load run on the embedded stack): calls, observe, one_run, analysis,
report."""
