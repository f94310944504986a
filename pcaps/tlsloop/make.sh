#!/bin/sh
# TLS captures from OpenSSL's own s_client and s_server over loopback, with the client's key log
# (s_client -keylogfile): the record layers tapaudit decrypts, checked against tshark -o
# tls.keylog_file (tests/parsers/test_tls_decrypt.py). Needs root (dumpcap on lo) and openssl 3.
# (-quiet also turns s_client's command letters off: the key update case runs without it.)
# Run from this folder: sh make.sh [NAME]  (rewrites the *.pcap and *.keylog here, or NAME's only)
set -eu
work=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/k.pem" -out "$work/c.pem" -days 2 \
    -subj /CN=device.test >/dev/null 2>&1
port=24430
only=${1:-}
req='GET /d1/%s?lat=52.52 HTTP/1.1\r\nHost: device.test\r\nUser-Agent: tapaudit-d1/%s\r\n\r\n'
# MQTT 3.1.1 CONNECT (client id d1-watch) and a QoS 0 PUBLISH of a position (OASIS MQTT 3.1.1 3.1, 3.3)
mqtt='\020\024\000\004MQTT\004\002\000\074\000\010d1-watch\060\040\000\023home/child/location52.52,13.40'
one() {  # name, extra client args, extra server args, key update before the request (0/1), mqtt
    name=$1; port=$((port + 1))
    [ -z "$only" ] || [ "$only" = "$name" ] || return 0
    [ "${5:-}" != mqtt ] || port=8883  # IANA's MQTT over TLS port: tshark reads it as MQTT
    rm -f "$name.keylog"
    dumpcap -q -i lo -f "tcp port $port" -w "$work/$name.pcapng" >/dev/null 2>&1 &
    dpid=$!
    openssl s_server -quiet $([ "${5:-}" = mqtt ] || echo -www) -accept "$port" -cert "$work/c.pem" -key "$work/k.pem" $3 >/dev/null 2>&1 &
    spid=$!
    sleep 1
    sess=""
    [ "${5:-}" != resume ] || sess="-sess_out $work/sess"
    (if [ "$4" = 1 ]; then printf 'K\n'; sleep 0.3; fi
        if [ "${5:-}" = mqtt ]; then printf "$mqtt"; else printf "$req" "$name" "$name"; fi; sleep 1) |
        openssl s_client $([ "$4" = 1 ] || echo -quiet) -connect "127.0.0.1:$port" -servername device.test \
            -keylogfile "$name.keylog" $2 $sess >/dev/null 2>&1 || true
    if [ "${5:-}" = resume ]; then  # a second connection resuming the first's session: a new random
        (printf "$req" "$name-resumed" "$name"; sleep 1) |
            openssl s_client -quiet -connect "127.0.0.1:$port" -servername device.test \
                -keylogfile "$name.keylog" $2 -sess_in "$work/sess" >/dev/null 2>&1 || true
    fi
    sleep 0.5
    kill "$spid" "$dpid"
    wait "$dpid" 2>/dev/null || true
    editcap -F pcap "$work/$name.pcapng" "$name.pcap"
}
one tls12-cbc-etm "-tls1_2 -cipher ECDHE-RSA-AES128-SHA256" "" 0
one tls12-cbc-sha1-mte "-tls1_2 -no_etm -cipher AES256-SHA" "-cipher AES256-SHA" 0
one tls12-chacha "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305" "" 0
one tls12-gcm384 "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384" "" 0
one tls12-ccm8 "-tls1_2 -cipher AES128-CCM8" "-cipher AES128-CCM8" 0
one tls11-cbc "-tls1_1 -cipher AES128-SHA@SECLEVEL=0" "-cipher AES128-SHA@SECLEVEL=0" 0
one tls10-cbc "-tls1 -cipher ECDHE-RSA-AES256-SHA@SECLEVEL=0" "-cipher ECDHE-RSA-AES256-SHA@SECLEVEL=0" 0
one tls13-ccm "-ciphersuites TLS_AES_128_CCM_SHA256" "-ciphersuites TLS_AES_128_CCM_SHA256" 0
one tls13-ccm8 "-ciphersuites TLS_AES_128_CCM_8_SHA256" "-ciphersuites TLS_AES_128_CCM_8_SHA256" 0
one tls13-chacha-keyupdate "-ciphersuites TLS_CHACHA20_POLY1305_SHA256" "" 1
one tls13-aes256-hrr "-ciphersuites TLS_AES_256_GCM_SHA384 -groups X25519:P-256" "-groups P-256" 0
one tls12-resume "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" "" 0 resume
one tls13-resume "-ciphersuites TLS_AES_128_GCM_SHA256" "" 0 resume
one tls13-mqtt-8883 "-ciphersuites TLS_AES_128_GCM_SHA256" "" 0 mqtt
rm -rf "$work"
