"""The faults a scenario injects: processes (kill, pause, restart), storage (power cuts
through the lazy filesystem, damage, full disks), membership, and the network (iptables
and tc on loopback)."""
