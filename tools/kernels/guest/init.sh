#!/bin/sh
# PID 1 of a tools/kernels guest (busybox ash). It runs the steps the host
# put on the kernel command line, which the kernel hands to init as
# environment variables:
#   ndhck_audits        comma-separated audit runs: strict, degraded
#   ndhck_daemon        empty, strict or degraded: the daemon against udhcpd
#   ndhck_audit_timeout seconds one audit may take
#   ndhck_bind_wait     seconds the daemon may take to bind
#   ndhck_renew_wait    seconds after binding until the lease must be renewed
# Results go to the serial console as "@@ndhc-kernels KIND key=value..."
# lines, and raw output as "@@ndhc-kernels-data STREAM LINE" lines; the
# host decides what passed. Verdicts come from the kernel (addresses on the
# interface) and the saved lease (`ndhc status --json`), never from ndhc's
# log wording.

/bin/busybox --install -s /bin
export PATH=/bin
# The initramfs root comes up mode 0777; a distribution's / is 0755, and
# ndhc refuses a chroot directory others can write (the hook role keeps /).
chmod 0755 /

M=@@ndhc-kernels
say() { echo "$M $*"; }
# Every line tagged, so the host can reassemble a stream even if a kernel
# message lands between two of its lines.
data() { while IFS= read -r l || [ -n "$l" ]; do echo "$M-data $1 $l"; done; }
# Seconds since boot with centiseconds, and the difference to an earlier one.
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
clocksource() { cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown; }
# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() { [ -e "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
finish() {
	say end clocksource="$(clocksource)"
	say done
	sync
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs /run
# Seccomp kills reach dmesg as "audit: type=1326 ... syscall=N" records,
# but through printk's rate limit (10 per 5 s), which the audit's
# deliberate kills use up; interval 0 turns the limit off.
echo 0 >/proc/sys/kernel/printk_ratelimit
# /var/lib and /run exist and are writable; ndhc creates its own
# directories in them (state directory, chroot) with the modes it checks.
ip link set lo up

lsm=$(cat /sys/kernel/security/lsm 2>/dev/null || echo unknown)
say boot kernel="$(uname -r)" machine="$(uname -m)" cpus="$(nproc)" clocksource="$(clocksource)" lsm="$lsm"

while read -r m; do
	[ -n "$m" ] || continue
	insmod "$m" || say error step=insmod module="$m"
done </etc/modules-load

# The kernel's Landlock ABI as ndhc sees it, from a command that enters no
# sandbox, so the table has it even when every audit dies.
abi=$(ndhc policy --json 2>/dev/null | sed -n 's/.*"kernel_landlock_abi": *\([0-9]*\).*/\1/p' | head -n 1)
say policy landlock_abi="${abi:-unknown}"

degrade_flag() { [ "$1" = degraded ] && echo --allow-degraded-sandbox=landlock; }

for a in $(echo "$ndhck_audits" | tr , ' '); do
	dmesg -c >/dev/null
	t0=$(now)
	# shellcheck disable=SC2046 # the flag is one word or none
	timeout -s KILL "${ndhck_audit_timeout:-90}" ndhc audit --json $(degrade_flag "$a") >/tmp/audit.out 2>/tmp/audit.err
	rc=$?
	say audit name="$a" rc="$rc" secs="$(since "$t0")"
	data "audit-$a-stdout" </tmp/audit.out
	data "audit-$a-stderr" </tmp/audit.err
	# Most of these are the probes' forbidden actions, killed on purpose.
	dmesg | grep 'type=1326' | data "audit-$a-seccomp"
done

# status FILE: the saved lease as `ndhc status --json` prints it, the
# interface that does not depend on the state directory's layout; false
# while there is none.
status() { ndhc status -i c0 --json >"$1" 2>/dev/null && [ -s "$1" ]; }
# acquired FILE, leaseaddr FILE: fields of that JSON.
acquired() { sed -n 's/.*"acquired": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }
leaseaddr() { sed -n 's/.*"address": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }

daemon() {
	mode=$1
	# The DHCP traffic stays inside the guest: a veth pair, the server end
	# in its own network namespace when busybox can do that.
	if ! ip link add c0 type veth peer name s0; then
		say daemon mode="$mode" error=veth
		return
	fi
	# busybox ip ignores the peer's name and calls it veth0.
	ip link show s0 >/dev/null 2>&1 || ip link set dev veth0 name s0
	unshare -n sleep 100000 &
	holder=$!
	netns=0
	srv=
	i=0
	while [ $i -lt 50 ]; do
		if [ "$(readlink /proc/$holder/ns/net)" != "$(readlink /proc/1/ns/net)" ]; then
			if ip link set dev s0 netns "$holder"; then
				netns=1
				srv="nsenter -t $holder -n"
			fi
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	$srv ip link set lo up
	$srv ip addr add 10.77.0.1/24 dev s0
	$srv ip link set s0 up
	ip link set c0 up
	# A 60 s lease, the shortest ndhc accepts (it raises shorter ones to
	# 60 s): T1 comes 30 s after binding, so the renewal is the engine's
	# own timer firing, not a signal from here.
	cat >/tmp/udhcpd.conf <<-CONF
		interface s0
		start 10.77.0.100
		end 10.77.0.150
		max_leases 51
		lease_file /tmp/udhcpd.leases
		pidfile /tmp/udhcpd.pid
		auto_time 0
		min_lease 60
		offer_time 10
		decline_time 10
		conflict_time 10
		opt subnet 255.255.255.0
		opt router 10.77.0.1
		opt lease 60
	CONF
	: >/tmp/udhcpd.leases
	$srv udhcpd -f /tmp/udhcpd.conf >/tmp/udhcpd.log 2>&1 &
	# The audit killed its probes with seccomp on purpose; only the
	# daemon's seccomp records below are news.
	dmesg -c >/dev/null
	t0=$(now)
	# shellcheck disable=SC2046
	ndhc -i c0 --arp-mode off --resolv-conf '' $(degrade_flag "$mode") 2>/tmp/ndhc.err &
	pid=$!
	bound=0 renewed=0 bind_secs=- renew_secs=- addr=- early=0
	end=$(($(cut -d. -f1 /proc/uptime) + ${ndhck_bind_wait:-60}))
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		alive "$pid" || { early=1; break; }
		if status /tmp/lease; then
			# The lease has address/prefix.
			addr=$(leaseaddr /tmp/lease)
			addr=${addr%%/*}
			if [ -n "$addr" ] && ip -4 addr show dev c0 | grep -q "inet $addr/"; then
				bound=1
				bind_secs=$(since "$t0")
				cp /tmp/lease /tmp/lease-bound
				break
			fi
		fi
		sleep 0.3
	done
	if [ $bound = 1 ]; then
		first=$(acquired /tmp/lease-bound)
		t1=$(now)
		end=$(($(cut -d. -f1 /proc/uptime) + ${ndhck_renew_wait:-50}))
		while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
			alive "$pid" || { early=1; break; }
			if status /tmp/lease; then
				a=$(acquired /tmp/lease)
				if [ -n "$a" ] && [ "$a" != "$first" ]; then
					renewed=1
					renew_secs=$(since "$t1")
					cp /tmp/lease /tmp/lease-renewed
					break
				fi
			fi
			sleep 0.5
		done
	fi
	if alive "$pid"; then
		kill -TERM "$pid"
		i=0
		while alive "$pid" && [ $i -lt 50 ]; do # 10 s: guestStopWait
			sleep 0.2
			i=$((i + 1))
		done
		alive "$pid" && kill -KILL "$pid"
	fi
	wait "$pid"
	rc=$?
	say daemon mode="$mode" netns=$netns bound=$bound renewed=$renewed bind_secs="$bind_secs" renew_secs="$renew_secs" addr="$addr" exit=$rc early=$early
	[ -f /tmp/lease-bound ] && data lease-bound </tmp/lease-bound
	[ -f /tmp/lease-renewed ] && data lease-renewed </tmp/lease-renewed
	tail -n 30 /tmp/ndhc.err | data ndhc-stderr
	tail -n 20 /tmp/udhcpd.log | data udhcpd
	# SECCOMP_RET_KILL records: "audit: type=1326 ... syscall=N".
	dmesg | grep 'type=1326' | data seccomp
	kill "$holder" 2>/dev/null
}

[ -n "$ndhck_daemon" ] && daemon "$ndhck_daemon"
finish
