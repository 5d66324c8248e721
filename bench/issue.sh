#!/usr/bin/env bash
# bench/issue.sh [N] - issuance throughput of `sitepki issue --batch`, with its
# peers and its ceiling measured in the same run (docs/bench.md).
#
#   bench/issue.sh            # N=10000, run from the project root
#   bench/issue.sh 2000
#   env: BENCH_FS=disk|tmpfs (default disk: durability is the point; tmpfs needs
#        root + unshare -m)  N_EACH=min(N,2000)  N_OPENSSL_CA=min(N,300)
#        LOOP_SECONDS=3  SPEED_SECONDS=3  FSYNC_COUNT=500  KEEP_TMP=1 (disk only)
#        BENCH_SETTLE=30 on disk, 0 on tmpfs: seconds of quiet before timing (docs/bench.md)
#        SITEPKI=path (default build-bench/sitepki, built in Release if missing)
#
# A benchmark, never a test: it prints figures and never fails on a timing.
# Output: one line per figure, "name: value unit  # detail"; lines starting
# with '#' are context; "# WARNING:" marks a correctness check that failed
# (a figure next to a warning is not to be trusted).
#
#   sitepki.issue.p256ca.batch             N CSRs, one `issue --batch` process, default group
#                                          commit (1000 per transaction); wall clock around the
#                                          command: process start + PBKDF2 key unlock included
#   sitepki.issue.p256ca.batch_excl_unlock the same run, the command's own "batch:" line (from the
#                                          first CSR read to the final syncfs; no start, no unlock)
#   sitepki.issue.p256ca.batch_cpu         user+sys CPU per certificate of that process
#   sitepki.issue.startup_s                wall minus the batch line (exec, template, key unlock)
#   sitepki.issue.rss_kb.N<N>              peak RSS of the batch process (/usr/bin/time %M)
#   sitepki.issue.p256ca.commit_each[_excl_unlock]   N_EACH CSRs with --commit-every 1
#                                          (one durable transaction per certificate), fresh home
#   sitepki.issue.p256ca.batch_1thread[_excl_unlock]  N_EACH CSRs, SITEPKI_THREADS=1 (one worker
#                                          thread + the main thread)
#   sitepki.issue.p256ca.batch_cores       (user+sys)/wall of the batch process
#   openssl_ca.issue.p256ca.per_process    `openssl ca -batch`, one process per certificate, as
#                                          easy-rsa runs it (N_OPENSSL_CA CSRs, same CA key; half
#                                          before and half after the sitepki batch, pooled)
#   speed.ecdsap256.sign|verify.1proc      `openssl speed -elapsed -seconds 3 ecdsap256`
#   inproc.issue.p256ca.fast.1proc         limit.sh's in-process C loop, "fast" mode, 1 process,
#                                          same CA key, one of the same CSRs (parsed once);
#                                          LOOP_SECONDS before and after the sitepki batch, pooled
#   inproc.issue.p256ca.fast.2proc         the same loop, 2 processes at once (all cores)
#   inproc.csr_parse_pem.p256              PEM_read_bio_X509_REQ of distinct CSRs from memory
#                                          (a batch parses N CSRs; the loop above parses one)
#   fs.newfile_tmp_rename                  mkstemp + write 700 B + fchmod + close + rename per
#                                          file, one syncfs at the end: sitepki's output pattern,
#                                          N_EACH files, measured just before the batch
#   fsync.append256_fdatasync              256-byte append + fdatasync (limit.sh), the price of one commit
#   ratio.sitepki_vs_inproc_loop           batch / inproc fast loop   (target >= 0.5)
#   ratio.sitepki_vs_openssl_ca            batch / openssl ca per process (target >= 20)
#   ratio.sitepki_excl_unlock_vs_inproc_loop, ratio.sitepki_vs_inproc_loop_2proc   context
# Needs: cmake + a C compiler + libssl-dev (build and helpers), openssl, sqlite3;
# /usr/bin/time (Debian package "time") for the RSS figure.
set -euo pipefail
export LC_ALL=C

BENCH_FS=${BENCH_FS:-disk}
case $BENCH_FS in disk | tmpfs) ;; *) echo "BENCH_FS must be disk or tmpfs" >&2; exit 2 ;; esac
if [ "$BENCH_FS" = tmpfs ] && [ "${BENCH_IN_MNTNS:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
		exec unshare -m env BENCH_IN_MNTNS=1 bash "$0" "$@"
	fi
	echo "# BENCH_FS=tmpfs needs root and unshare -m: falling back to BENCH_FS=disk" >&2
	BENCH_FS=disk
fi

N=${1:-10000}
case $N in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
[ "$N" -ge 20 ] || { echo "N must be >= 20" >&2; exit 2; }
N_EACH=${N_EACH:-$((N < 2000 ? N : 2000))}
N_OPENSSL_CA=${N_OPENSSL_CA:-$((N < 300 ? N : 300))}
LOOP_SECONDS=${LOOP_SECONDS:-3}
SPEED_SECONDS=${SPEED_SECONDS:-3}
if [ ! -f CMakeLists.txt ] || [ ! -d ca ] || [ ! -d cli ]; then echo "run from the sitepki project root" >&2; exit 2; fi
ROOT=$(pwd)

# ------------------------------------------------------------------ build
SITEPKI_FROM_ENV=${SITEPKI:+1}
SITEPKI=${SITEPKI:-$ROOT/build-bench/sitepki}
if [ ! -x "$SITEPKI" ]; then
	echo "# building $SITEPKI (Release) ..." >&2
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$ROOT/build-bench" -j"$(nproc)" --target sitepki >/dev/null
fi

STALE=
[ -n "$SITEPKI_FROM_ENV" ] || STALE=$(find "$ROOT/ca" "$ROOT/cli" "$ROOT/common" "$ROOT/store" "$ROOT/templates" "$ROOT/CMakeLists.txt" \
	\( -name '*.[ch]' -o -name CMakeLists.txt \) -newer "$SITEPKI" 2>/dev/null | head -1 || true)

T=$(mktemp -d "${TMPDIR:-/tmp}/bench-sitepki-issue.XXXXXX")
if [ "$BENCH_FS" = tmpfs ]; then mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-4g},mode=0700" tmpfs "$T"; fi
cleanup() {
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$BENCH_FS" = disk ]; then echo "# kept $T" >&2; else
		[ "$BENCH_FS" != tmpfs ] || umount "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s%N; }
res() { printf '%s: %s %s\n' "$@"; }
warn() { echo "# WARNING: $*"; }
rate() { # name count t0_ns t1_ns [detail]
	awk -v n="$1" -v c="$2" -v a="$3" -v b="$4" -v d="${5:-}" 'BEGIN{ s=(b-a)/1e9; printf "%s: %.1f certs/s  # %d certs in %.3f s%s\n", n, c/s, c, s, (d=="" ? "" : ", " d) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.3f", a/b; else print "n/a" }'; }
bgload() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat >"$T/st0"; sleep 1
	awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat | awk -v f="$T/st0" 'BEGIN{getline l <f; split(l,a," ")} {b=$1-a[1]; i=$2-a[2]; if (b+i > 0) printf "%.0f", 100*b/(b+i); else printf "0"}'; }
# whole-run CPU accounting (noise indicator): machine busy vs this script's own CPU
cpu_snap() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9}' /proc/stat; }
run_start() { RUN_T0=$(date +%s%N); read -r RUN_B0 RUN_S0 < <(cpu_snap); }
run_accounting() {
	local b1 s1 own
	read -r b1 s1 < <(cpu_snap)
	times >"$T/times.txt" # builtin in this shell: own + waited-for children CPU
	own=$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%.2f", s }' "$T/times.txt")
	awk -v b0="$RUN_B0" -v b1="$b1" -v s0="$RUN_S0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" -v own="$own" \
		-v t0="$RUN_T0" -v t1="$(date +%s%N)" -v n="$(nproc)" 'BEGIN {
		wall = (t1 - t0) / 1e9; busy = (b1 - b0) / hz; steal = (s1 - s0) / hz; other = busy - own; if (other < 0) other = 0
		printf "# CPU accounting: wall %.1f s, machine busy %.1f CPU-s, this run %.1f CPU-s, other processes ~%.1f CPU-s (%.0f%% of %d cores), hypervisor steal %.1f CPU-s\n", wall, busy, own, other, 100 * other / (wall * n), n, steal }'
}

echo "# bench/issue.sh N=$N  $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')  fs=$BENCH_FS($(findmnt -no FSTYPE -T "$T" 2>/dev/null || stat -f -c %T "$T"))"
echo "# $(openssl version) | sitepki $(if [ -n "$SITEPKI_FROM_ENV" ]; then echo "from \$SITEPKI"; else git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'; git -C "$ROOT" status --porcelain -uno 2>/dev/null | grep -q . && echo '+dirty'; fi | tr -d '\n') $SITEPKI ($(date -u -r "$SITEPKI" +%H:%M:%SZ)) | $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 | sed 's/^/sqlite3 /')"
[ -z "${SITEPKI_THREADS:-}" ] || echo "# SITEPKI_THREADS=$SITEPKI_THREADS is set: the batch runs use that many worker threads"
[ -z "$STALE" ] || echo "# note: $SITEPKI is older than $STALE (rebuild: cmake --build build-bench, or delete it)"
echo "# background CPU busy before run: $(bgload)% of $(nproc) cores (want ~0; other load skews every figure)"
run_start

# ------------------------------------------------------------- C helpers
# (1) limit.sh's in-process loop, copied verbatim from shared/bench/limit.sh
#     (only its "issue" mode is used here).
cat >"$T/lim.c" <<'EOF'
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static void die(const char*m){fprintf(stderr,"%s\n",m);exit(1);}
static void ext(X509*x,X509V3_CTX*c,int nid,const char*v){X509_EXTENSION*e=X509V3_EXT_conf_nid(NULL,c,nid,v);if(!e)die("ext");X509_add_ext(x,e,-1);X509_EXTENSION_free(e);}
int main(int argc,char**argv){
  if(argc<3)die("usage");
  double secs=atof(argv[2]),t0=now(),t;long n=0;
  if(!strcmp(argv[1],"keygen")){ /* keygen SECS rsa2048|p256 */
    do{EVP_PKEY*k=!strcmp(argv[3],"rsa2048")?EVP_PKEY_Q_keygen(NULL,NULL,"RSA",(size_t)2048)
                                             :EVP_PKEY_Q_keygen(NULL,NULL,"EC","P-256");
       if(!k)die("keygen");EVP_PKEY_free(k);n++;t=now();}while(t-t0<secs&&n<10000000);
  }else if(!strcmp(argv[1],"issue")){ /* issue SECS cakey cacert csr naive|fast lastcert.pem */
    FILE*f;EVP_PKEY*ck;X509*cc;X509_REQ*rq;X509*last=NULL;int fast=argc>6&&!strcmp(argv[6],"fast");if(argc<8)die("usage");
    if(!(f=fopen(argv[3],"r"))||!(ck=PEM_read_PrivateKey(f,NULL,NULL,NULL)))die("cakey");fclose(f);
    if(!(f=fopen(argv[4],"r"))||!(cc=PEM_read_X509(f,NULL,NULL,NULL)))die("cacert");fclose(f);
    if(!(f=fopen(argv[5],"r"))||!(rq=PEM_read_X509_REQ(f,NULL,NULL,NULL)))die("csr");fclose(f);
    do{EVP_PKEY*pk=X509_REQ_get0_pubkey(rq);if(X509_REQ_verify(rq,pk)!=1)die("csr sig");
       X509*x=X509_new();unsigned char sb[16];ASN1_INTEGER*s;BIGNUM*bn;X509V3_CTX c;
       X509_set_version(x,2);RAND_bytes(sb,16);sb[0]&=0x7f;bn=BN_bin2bn(sb,16,NULL);
       s=BN_to_ASN1_INTEGER(bn,NULL);X509_set_serialNumber(x,s);ASN1_INTEGER_free(s);BN_free(bn);
       X509_set_issuer_name(x,X509_get_subject_name(cc));X509_set_subject_name(x,X509_REQ_get_subject_name(rq));
       X509_gmtime_adj(X509_getm_notBefore(x),0);X509_gmtime_adj(X509_getm_notAfter(x),90L*86400);
       if(fast){ /* copy the CSR's SubjectPublicKeyInfo bytes: avoids the 3.0 encoder path of X509_set_pubkey */
         X509_PUBKEY*rp=X509_REQ_get_X509_PUBKEY(rq);ASN1_OBJECT*ao;const unsigned char*pb;int pl,pt;X509_ALGOR*pa;const void*pv;
         X509_PUBKEY_get0_param(&ao,&pb,&pl,&pa,rp);X509_ALGOR_get0(NULL,&pt,&pv,pa);
         if(!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),OBJ_dup(ao),pt,pt==V_ASN1_OBJECT?OBJ_dup(pv):NULL,OPENSSL_memdup(pb,pl),pl))die("spki");
       }else X509_set_pubkey(x,pk);
       X509V3_set_ctx(&c,cc,x,NULL,NULL,0);
       ext(x,&c,NID_basic_constraints,"critical,CA:FALSE");ext(x,&c,NID_key_usage,"critical,digitalSignature");
       ext(x,&c,NID_ext_key_usage,"serverAuth");ext(x,&c,NID_subject_key_identifier,"hash");
       ext(x,&c,NID_authority_key_identifier,"keyid");
       STACK_OF(X509_EXTENSION)*rx=X509_REQ_get_extensions(rq);
       for(int i=0;i<sk_X509_EXTENSION_num(rx);i++){X509_EXTENSION*e=sk_X509_EXTENSION_value(rx,i);
         if(OBJ_obj2nid(X509_EXTENSION_get_object(e))==NID_subject_alt_name)X509_add_ext(x,e,-1);}
       sk_X509_EXTENSION_pop_free(rx,X509_EXTENSION_free);
       if(!X509_sign(x,ck,EVP_sha256()))die("sign");
       BIO*b=BIO_new(BIO_s_mem());PEM_write_bio_X509(b,x);BIO_free(b);
       if(last)X509_free(last);last=x;n++;t=now();
    }while(t-t0<secs&&n<10000000);
    if(!(f=fopen(argv[7],"w"))||!PEM_write_X509(f,last))die("out");fclose(f);
  }else if(!strcmp(argv[1],"append")){ /* append COUNT dir : 256-byte append + fdatasync */
    char p[4096],buf[256];memset(buf,'x',sizeof buf);buf[255]='\n';snprintf(p,sizeof p,"%s/append.log",argv[3]);
    int fd=open(p,O_WRONLY|O_CREAT|O_APPEND,0600);if(fd<0)die("open");long cnt=atol(argv[2]);
    for(n=0;n<cnt;n++){if(write(fd,buf,sizeof buf)!=sizeof buf||fdatasync(fd))die("append");}
    close(fd);t=now();
  }else if(!strcmp(argv[1],"newfile")){ /* newfile COUNT dir : write 1 KiB tmp, fsync, rename, fsync dir */
    char p[4096],q[4096],buf[1024];memset(buf,'y',sizeof buf);long cnt=atol(argv[2]);
    int dfd=open(argv[3],O_RDONLY|O_DIRECTORY);if(dfd<0)die("dir");
    for(n=0;n<cnt;n++){snprintf(p,sizeof p,"%s/tmp.%ld",argv[3],n);snprintf(q,sizeof q,"%s/cert.%ld",argv[3],n);
      int fd=open(p,O_WRONLY|O_CREAT|O_TRUNC,0600);if(fd<0||write(fd,buf,sizeof buf)!=sizeof buf||fsync(fd)||close(fd)||rename(p,q)||fsync(dfd))die("newfile");}
    close(dfd);t=now();
  }else die("mode");
  printf("%ld %.6f\n",n,t-t0);return 0;}
EOF
# (2) this script's own helper: CSR generation (untimed setup), CSR parse rate,
#     and the file-output floor.
cat >"$T/bh.c" <<'EOF'
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static void die(const char*m){fprintf(stderr,"bh: %s\n",m);exit(1);}
static char*slurp(const char*p,long*len){FILE*f=fopen(p,"rb");char*b;if(!f)die(p);fseek(f,0,SEEK_END);*len=ftell(f);rewind(f);
  if(!(b=malloc(*len+1))||fread(b,1,*len,f)!=(size_t)*len)die("read");fclose(f);return b;}
int main(int argc,char**argv){
  if(argc<2)die("usage");
  if(!strcmp(argv[1],"gencsr")&&argc==5){ /* gencsr DIR FIRST LAST: P-256 key, CN + SAN DNS leafI.example.test */
    for(long i=atol(argv[3]);i<=atol(argv[4]);i++){
      char cn[64],san[80],path[4096];FILE*f;
      snprintf(cn,sizeof cn,"leaf%ld.example.test",i);snprintf(san,sizeof san,"DNS:%s",cn);
      snprintf(path,sizeof path,"%s/%06ld.csr",argv[2],i);
      EVP_PKEY*k=EVP_PKEY_Q_keygen(NULL,NULL,"EC","P-256");X509_REQ*r=X509_REQ_new();X509_NAME*nm=X509_NAME_new();
      STACK_OF(X509_EXTENSION)*ex=sk_X509_EXTENSION_new_null();X509_EXTENSION*e=X509V3_EXT_conf_nid(NULL,NULL,NID_subject_alt_name,san);
      if(!k||!r||!nm||!ex||!e||!X509_REQ_set_version(r,0)||!X509_NAME_add_entry_by_txt(nm,"CN",MBSTRING_ASC,(unsigned char*)cn,-1,-1,0)
         ||!X509_REQ_set_subject_name(r,nm)||!X509_REQ_set_pubkey(r,k)||!sk_X509_EXTENSION_push(ex,e)||!X509_REQ_add_extensions(r,ex)
         ||!X509_REQ_sign(r,k,EVP_sha256()))die("csr");
      if(!(f=fopen(path,"w"))||!PEM_write_X509_REQ(f,r)||fclose(f))die(path);
      sk_X509_EXTENSION_pop_free(ex,X509_EXTENSION_free);X509_NAME_free(nm);X509_REQ_free(r);EVP_PKEY_free(k);}
    return 0;
  }
  if(!strcmp(argv[1],"parse")&&argc==5){ /* parse SECS DIR COUNT: PEM_read_bio_X509_REQ of COUNT distinct CSRs, cycled */
    double secs=atof(argv[2]),t0,t;long cnt=atol(argv[4]),n=0,*lens=calloc(cnt,sizeof(long));char**bufs=calloc(cnt,sizeof(char*));
    for(long i=0;i<cnt;i++){char p[4096];snprintf(p,sizeof p,"%s/%06ld.csr",argv[3],i+1);bufs[i]=slurp(p,&lens[i]);}
    t0=now();
    do{BIO*b=BIO_new_mem_buf(bufs[n%cnt],(int)lens[n%cnt]);X509_REQ*r=PEM_read_bio_X509_REQ(b,NULL,NULL,NULL);
       if(!r)die("parse");X509_REQ_free(r);BIO_free(b);n++;t=now();}while(t-t0<secs);
    printf("%ld %.6f\n",n,t-t0);return 0;
  }
  if(!strcmp(argv[1],"newfile")&&argc==4){ /* newfile DIR COUNT: sp_file_write_atomic(sync=0) per file, syncfs at the end */
    char buf[700];long cnt=atol(argv[3]);double t0=now();memset(buf,'z',sizeof buf);
    for(long i=0;i<cnt;i++){char p[4096],tmp[4200];snprintf(p,sizeof p,"%s/%06ld.pem",argv[2],i);snprintf(tmp,sizeof tmp,"%s.tmpXXXXXX",p);
      int fd=mkstemp(tmp);if(fd<0||fchmod(fd,0644)||write(fd,buf,sizeof buf)!=(ssize_t)sizeof buf||close(fd)||rename(tmp,p))die("newfile");}
    int d=open(argv[2],O_RDONLY|O_DIRECTORY);if(d<0||syncfs(d))die("syncfs");close(d);
    printf("%ld %.6f\n",cnt,now()-t0);return 0;
  }
  die("usage");return 1;}
EOF
cc -O2 -o "$T/lim" "$T/lim.c" -lcrypto 2>"$T/cc1.err" || { cat "$T/cc1.err" >&2; echo "cannot compile the limit.sh loop (cc + libssl-dev)" >&2; exit 1; }
cc -O2 -o "$T/bh" "$T/bh.c" -lcrypto 2>"$T/cc2.err" || { cat "$T/cc2.err" >&2; echo "cannot compile the bench helper (cc + libssl-dev)" >&2; exit 1; }

# ------------------------------------------------------------------ setup (untimed)
mkdir -p "$T/csr"
half=$(((N + 1) / 2))
"$T/bh" gencsr "$T/csr" 1 "$half" &
g1=$!
"$T/bh" gencsr "$T/csr" $((half + 1)) "$N" &
g2=$!
if ! wait "$g1" || ! wait "$g2"; then echo "CSR generation failed" >&2; exit 1; fi
[ "$(find "$T/csr" -name '*.csr' | wc -l)" -eq "$N" ] || { echo "CSR generation: wrong count" >&2; exit 1; }
# list files: sitepki --batch takes a directory or a file listing the CSR paths
seq 1 "$N_EACH" | awk -v d="$T/csr" '{ printf "%s/%06d.csr\n", d, $1 }' >"$T/each.list"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/pass"
chmod 600 "$T/pass"
H="$T/home"
"$SITEPKI" --home "$H" init --name "Bench P-256 CA" --key ec-p256 --pass-file "$T/pass" >"$T/init.out" 2>&1 ||
	{ cat "$T/init.out" >&2; echo "sitepki init failed" >&2; exit 1; }
"$SITEPKI" --home "$T/home-each" init --name "Bench P-256 CA (commit each)" --key ec-p256 --pass-file "$T/pass" >"$T/init2.out" 2>&1 ||
	{ cat "$T/init2.out" >&2; echo "sitepki init (commit each) failed" >&2; exit 1; }
# the same CA key and certificate, unencrypted, for the peers and the C loop
openssl pkey -in "$H/ca-key.pem" -passin "file:$T/pass" -out "$T/ca.key" 2>"$T/pkey.err" ||
	{ cat "$T/pkey.err" >&2; echo "cannot decrypt the sitepki CA key" >&2; exit 1; }
cp "$H/ca.pem" "$T/ca.pem"
echo "# setup: $N CSRs (P-256 leaf keys, CN + SAN dNSName), CA $(openssl x509 -in "$T/ca.pem" -noout -subject | sed 's/^subject=//') $(openssl pkey -in "$T/ca.key" -noout -text 2>/dev/null | grep -m1 'NIST CURVE' | sed 's/^ *//')"
# ext4 without a journal (this box) skips inodes freed in the last seconds when it allocates
# new ones, and that scan makes file creation 5x slower for ~30-60 s after a mass delete
# (the previous run's cleanup): wait before anything is timed (docs/bench.md).
BENCH_SETTLE=${BENCH_SETTLE:-$([ "$BENCH_FS" = disk ] && echo 30 || echo 0)}
sync
if [ "$BENCH_SETTLE" -gt 0 ]; then
	echo "# settling ${BENCH_SETTLE} s before timing (BENCH_SETTLE; see docs/bench.md)"
	sleep "$BENCH_SETTLE"
fi
HAVE_TIME=1
[ -x /usr/bin/time ] || { HAVE_TIME=0; echo "# /usr/bin/time missing (apt-get install -y time): RSS and CPU figures are n/a"; }

# ------------------------------------------------- (b) raw sign rate of the CA key type
openssl speed -mr -elapsed -seconds "$SPEED_SECONDS" ecdsap256 >"$T/speed.txt" 2>&1 || true
SPEED_SIGN=$(awk -F: '/^\+F4:/ { print $4 }' "$T/speed.txt" | head -1)
SPEED_VERIFY=$(awk -F: '/^\+F4:/ { print $5 }' "$T/speed.txt" | head -1)
res speed.ecdsap256.sign.1proc "$(printf '%.1f' "${SPEED_SIGN:-0}")" "sign/s"
res speed.ecdsap256.verify.1proc "$(printf '%.1f' "${SPEED_VERIFY:-0}")" "verify/s  # CSR proof of possession is one verify"

# ------------------------------------------------- (a) openssl ca -batch, one process per certificate
# Run in two halves, one before and one after the sitepki batch (the box is shared: alternate).
# (configuration as in shared/bench/peers-issue.sh openssl_ca_dir; same CA key as sitepki)
d="$T/oca"
mkdir -p "$d/newcerts" "$d/out"
: >"$d/index.txt"
echo "unique_subject = no" >"$d/index.txt.attr"
cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir              = $d
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
certificate      = $T/ca.pem
private_key      = $T/ca.key
rand_serial      = yes
default_md       = sha256
default_days     = 90
policy           = policy_any
unique_subject   = no
copy_extensions  = copy
email_in_dn      = no
x509_extensions  = leaf_ext
[ policy_any ]
commonName       = supplied
[ leaf_ext ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EOF
OCA_HALF=$((N_OPENSSL_CA / 2))
oca_run() { # first last
	local t0 t1 i
	sync
	t0=$(now)
	for i in $(seq "$1" "$2"); do
		openssl ca -batch -notext -config "$d/ca.cnf" -in "$(printf '%s/csr/%06d.csr' "$T" "$i")" -out "$d/out/$i.pem" >/dev/null 2>&1
	done
	t1=$(now)
	echo "$(($2 - $1 + 1)) $t0 $t1" >>"$T/oca.all"
	awk -v n="$(($2 - $1 + 1))" -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.1f", n/((b-a)/1e9) }'
}
OCA_A=$(oca_run 1 "$OCA_HALF")

# ------------------------------------------------- (c) in-process C loop, limit.sh "fast"
# LOOP_SECONDS before and LOOP_SECONDS after the sitepki batch; the figure is the pooled rate.
loop_run() { # prints the rate of this run (warnings go to $T/late-warn: stdout is captured)
	if "$T/lim" issue "$LOOP_SECONDS" "$T/ca.key" "$T/ca.pem" "$T/csr/000001.csr" fast "$T/loop-last.pem" >"$T/loop.txt" 2>"$T/loop.err"; then
		local ln ls
		read -r ln ls <"$T/loop.txt"
		echo "$ln $ls" >>"$T/loop.all"
		openssl verify -CAfile "$T/ca.pem" "$T/loop-last.pem" >/dev/null 2>&1 || warn "the C loop produced a certificate that does not verify" >>"$T/late-warn"
		awk -v n="$ln" -v s="$ls" 'BEGIN{ printf "%.1f", n/s }'
	else
		warn "C loop failed: $(head -c 200 "$T/loop.err")" >>"$T/late-warn"
		echo 0
	fi
}
LOOP_A=$(loop_run)
# the same loop in 2 processes at once (limit.sh's 2proc figure): the ceiling when every core works
for i in 1 2; do "$T/lim" issue "$LOOP_SECONDS" "$T/ca.key" "$T/ca.pem" "$T/csr/000001.csr" fast "$T/loop-last$i.pem" >"$T/loop2.$i" 2>/dev/null & done
wait
INPROC2=$(cat "$T/loop2.1" "$T/loop2.2" | awk '{ n += $1; if ($2 > t) t = $2 } END { if (t > 0) printf "%.1f", n/t; else print 0 }')
res inproc.issue.p256ca.fast.2proc "$INPROC2" "certs/s  # 2 loops in parallel (sitepki's batch runs one worker thread per core)"
# CSR parse rate (PEM -> X509_REQ; OpenSSL 3.0 decodes the public key through its decoder framework)
if "$T/bh" parse "$LOOP_SECONDS" "$T/csr" "$((N < 1000 ? N : 1000))" >"$T/parse.txt" 2>"$T/parse.err"; then
	read -r pn ps <"$T/parse.txt"
	res inproc.csr_parse_pem.p256 "$(awk -v n="$pn" -v s="$ps" 'BEGIN{ printf "%.1f", n/s }')" \
		"parses/s  # $pn in $ps s, $(awk -v n="$pn" -v s="$ps" 'BEGIN{ printf "%.1f", 1e6*s/n }') us each; not in the loop above"
else
	res inproc.csr_parse_pem.p256 error parses/s
fi

# ------------------------------------------------- file-output floor (sitepki's pattern, no crypto)
mkdir -p "$T/nf"
sync
if "$T/bh" newfile "$T/nf" "$N_EACH" >"$T/nf.txt" 2>"$T/nf.err"; then
	read -r fn fs_ <"$T/nf.txt"
	res fs.newfile_tmp_rename "$(awk -v n="$fn" -v s="$fs_" 'BEGIN{ printf "%.1f", n/s }')" \
		"files/s  # $fn files in $fs_ s ($(awk -v n="$fn" -v s="$fs_" 'BEGIN{ printf "%.1f", 1e6*s/n }') us each): mkstemp+fchmod+write+close+rename, 1 syncfs"
else
	res fs.newfile_tmp_rename error files/s
fi
# ------------------------------------------------- sitepki batch, default group commit
sync # flush the setup's dirty pages now: sitepki's final syncfs must not pay for them
t0=$(now)
if [ "$HAVE_TIME" = 1 ]; then
	/usr/bin/time -f '%e %M %U %S' -o "$T/time-batch.txt" \
		"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" --pass-file "$T/pass" \
		>"$T/batch.out" 2>"$T/batch.err" && brc=0 || brc=$?
else
	"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" --pass-file "$T/pass" \
		>"$T/batch.out" 2>"$T/batch.err" && brc=0 || brc=$?
fi
t1=$(now)
BATCH_LINE=$(grep -m1 '^batch: ' "$T/batch.err" || true)
SP=0
SP_EX=0
if [ "$brc" -eq 0 ] && [ -n "$BATCH_LINE" ]; then
	issued=$(echo "$BATCH_LINE" | awk '{ print $2 }')
	bsecs=$(echo "$BATCH_LINE" | awk '{ for (i = 1; i <= NF; i++) if ($i == "s") print $(i - 1) }' | head -1)
	SP=$(awk -v c="$issued" -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.1f", c/((b-a)/1e9) }')
	SP_EX=$(awk -v c="$issued" -v s="$bsecs" 'BEGIN{ printf "%.1f", c/s }')
	rate sitepki.issue.p256ca.batch "$issued" "$t0" "$t1" "wall around the command: exec + key unlock + batch, --commit-every 1000"
	res sitepki.issue.p256ca.batch_excl_unlock "$SP_EX" "certs/s  # $BATCH_LINE"
	res sitepki.issue.startup_s "$(awk -v a="$t0" -v b="$t1" -v s="$bsecs" 'BEGIN{ printf "%.3f", (b-a)/1e9 - s }')" "s  # wall minus the batch line: exec, template, PBKDF2 key unlock, close"
	if [ "$HAVE_TIME" = 1 ]; then
		read -r _ rss usr sys <"$T/time-batch.txt"
		res "sitepki.issue.rss_kb.N$N" "$rss" "KB  # peak RSS of the batch process"
		res sitepki.issue.p256ca.batch_cpu "$(awk -v u="$usr" -v s="$sys" -v c="$issued" 'BEGIN{ printf "%.1f", 1e6*(u+s)/c }')" "us/cert  # user $usr s + sys $sys s for $issued certs (unlock included)"
		res sitepki.issue.p256ca.batch_cores "$(awk -v u="$usr" -v s="$sys" -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.2f", (u+s)/((b-a)/1e9) }')" "cores  # (user+sys)/wall of the batch process, of $(nproc)"
	fi
	[ "$issued" -eq "$N" ] || warn "batch issued $issued of $N"
else
	res sitepki.issue.p256ca.batch error certs/s
	warn "sitepki batch failed (rc $brc): $(tail -3 "$T/batch.err")"
fi

# ------------------------------------------------- second halves of the peers, right after the batch
LOOP_B=$(loop_run)
OCA_B=$(oca_run $((OCA_HALF + 1)) "$N_OPENSSL_CA")
INPROC=$(awk '{ n += $1; s += $2 } END { if (s > 0) printf "%.1f", n/s; else print 0 }' "$T/loop.all" 2>/dev/null || echo 0)
res inproc.issue.p256ca.fast.1proc "$INPROC" "certs/s  # before the batch $LOOP_A/s, after $LOOP_B/s ($LOOP_SECONDS s each): verify CSR + build + copy SPKI + sign + PEM, no I/O, CSR parsed once"
oca_n=$(find "$d/out" -name '*.pem' -size +0 | wc -l)
OCA=$(awk -v c="$oca_n" '{ s += ($3 - $2)/1e9 } END { if (s > 0) printf "%.1f", c/s; else print 0 }' "$T/oca.all")
res openssl_ca.issue.p256ca.per_process "$OCA" "certs/s  # $oca_n certs, before the batch $OCA_A/s, after $OCA_B/s: openssl ca -batch, one process per certificate (as easy-rsa)"
ok=$(find "$d/out" -maxdepth 1 -type f -name '*.pem' -print0 | xargs -0 -r -n 200 openssl verify -CAfile "$T/ca.pem" 2>/dev/null | grep -c ': OK$' || true)
[ "$ok" -eq "$N_OPENSSL_CA" ] || warn "openssl ca: $ok of $N_OPENSSL_CA certificates verify"
[ ! -s "$T/late-warn" ] || cat "$T/late-warn"

# ------------------------------------------------- correctness of what was measured (untimed)
rows=$(sqlite3 "file:$H/sitepki.db?mode=ro" 'select count(*) from certificate where template = '\''web-server'\'';' 2>"$T/sql.err" || echo "?")
files=$(find "$T/out" -maxdepth 1 -name '*.pem' 2>/dev/null | wc -l)
echo "# check: store rows $rows (expect $N), output files $files (expect $N)"
[ "$rows" = "$N" ] || warn "store holds $rows certificates, expected $N $(head -c 200 "$T/sql.err")"
[ "$files" -eq "$N" ] || warn "$files output files, expected $N"
ok=0
for i in $(seq 1 20); do
	f=$(printf '%s/out/%06d.pem' "$T" $(((i - 1) * N / 20 + 1)))
	openssl verify -CAfile "$H/ca.pem" "$f" >/dev/null 2>&1 && ok=$((ok + 1))
done
echo "# check: openssl verify of 20 sample certificates against the CA: $ok OK"
[ "$ok" -eq 20 ] || warn "only $ok of 20 sample certificates verify"

# ------------------------------------------------- sitepki, one commit per certificate
sync
t0=$(now)
"$SITEPKI" --home "$T/home-each" issue --template web-server --batch "$T/each.list" --out-dir "$T/out-each" \
	--commit-every 1 --pass-file "$T/pass" >"$T/each.out" 2>"$T/each.err" && erc=0 || erc=$?
t1=$(now)
EACH_LINE=$(grep -m1 '^batch: ' "$T/each.err" || true)
if [ "$erc" -eq 0 ] && [ -n "$EACH_LINE" ]; then
	issued=$(echo "$EACH_LINE" | awk '{ print $2 }')
	bsecs=$(echo "$EACH_LINE" | awk '{ for (i = 1; i <= NF; i++) if ($i == "s") print $(i - 1) }' | head -1)
	rate sitepki.issue.p256ca.commit_each "$issued" "$t0" "$t1" "wall, --commit-every 1 (one fsync'd transaction per certificate)"
	res sitepki.issue.p256ca.commit_each_excl_unlock "$(awk -v c="$issued" -v s="$bsecs" 'BEGIN{ printf "%.1f", c/s }')" "certs/s  # $EACH_LINE"
	erows=$(sqlite3 "file:$T/home-each/sitepki.db?mode=ro" 'select count(*) from certificate where template = '\''web-server'\'';' 2>/dev/null || echo "?")
	echo "# check: commit_each store rows $erows (expect $N_EACH)"
	[ "$erows" = "$N_EACH" ] || warn "commit_each store holds $erows certificates, expected $N_EACH"
else
	res sitepki.issue.p256ca.commit_each error certs/s
	warn "sitepki commit_each failed (rc $erc): $(tail -3 "$T/each.err")"
fi

# ------------------------------------------------- sitepki, one worker thread (per-core efficiency)
sync
t0=$(now)
SITEPKI_THREADS=1 "$SITEPKI" --home "$H" issue --template web-server --batch "$T/each.list" --out-dir "$T/out-1t" \
	--pass-file "$T/pass" >"$T/t1.out" 2>"$T/t1.err" && trc=0 || trc=$?
t1=$(now)
T1_LINE=$(grep -m1 '^batch: ' "$T/t1.err" || true)
if [ "$trc" -eq 0 ] && [ -n "$T1_LINE" ]; then
	issued=$(echo "$T1_LINE" | awk '{ print $2 }')
	rate sitepki.issue.p256ca.batch_1thread "$issued" "$t0" "$t1" "wall, SITEPKI_THREADS=1, same home (now $N certificates), --commit-every 1000"
	res sitepki.issue.p256ca.batch_1thread_excl_unlock "$(echo "$T1_LINE" | awk '{ for (i = 1; i <= NF; i++) if ($i == "s") print $(i - 1) }' | head -1 | awk -v c="$issued" '{ printf "%.1f", c/$1 }')" "certs/s  # $T1_LINE"
else
	res sitepki.issue.p256ca.batch_1thread error certs/s
	warn "sitepki 1-thread batch failed (rc $trc): $(tail -3 "$T/t1.err")"
fi

# durable-append rate of the same filesystem (limit.sh's "append" mode): what one commit costs
mkdir -p "$T/fs"
if "$T/lim" append "${FSYNC_COUNT:-500}" "$T/fs" >"$T/fsync.txt" 2>/dev/null; then
	read -r an as <"$T/fsync.txt"
	res fsync.append256_fdatasync "$(awk -v n="$an" -v s="$as" 'BEGIN{ printf "%.1f", n/s }')" \
		"ops/s  # $an appends in $as s ($(awk -v n="$an" -v s="$as" 'BEGIN{ printf "%.0f", 1e6*s/n }') us each)"
else
	res fsync.append256_fdatasync error ops/s
fi
rm -rf "$T/fs"

# ------------------------------------------------- ratios
R1=$(ratio "$SP" "$INPROC")
R2=$(ratio "$SP" "$OCA")
R3=$(ratio "$SP_EX" "$INPROC")
R4=$(ratio "$SP" "$INPROC2")
res ratio.sitepki_vs_inproc_loop "$R1" "x  # sitepki.issue.p256ca.batch / inproc.issue.p256ca.fast.1proc, target >= 0.5"
res ratio.sitepki_vs_openssl_ca "$R2" "x  # sitepki.issue.p256ca.batch / openssl_ca.issue.p256ca.per_process, target >= 20"
res ratio.sitepki_excl_unlock_vs_inproc_loop "$R3" "x  # batch_excl_unlock / inproc loop"
res ratio.sitepki_vs_inproc_loop_2proc "$R4" "x  # sitepki.issue.p256ca.batch / inproc.issue.p256ca.fast.2proc (all cores on both sides)"
verdict() { awk -v r="$1" -v t="$2" 'BEGIN{ if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "meets target"; else print "below target" }'; }
echo "# summary: N=$N fs=$BENCH_FS: sitepki batch $SP certs/s ($SP_EX excl. unlock) = $R1 x the in-process loop ($INPROC/s; target >= 0.5: $(verdict "$R1" 0.5)) and $R2 x openssl ca per process ($OCA/s; target >= 20: $(verdict "$R2" 20))"
run_accounting
