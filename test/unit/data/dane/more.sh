#!/bin/sh
# Makes the fixtures added for issue 12 (see README.txt): run with sh in
# an empty directory holding a copy of dane.cnf.  New keys each time, so
# a rerun changes every digest taken from these files (none is hard-coded).
set -e
C=dane.cnf
LONG="-startdate 20200101000000Z -enddate 21200101000000Z"
: > index.txt
echo 01 > serial
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key; }
csr() { openssl req -config $C -new -key $1.key -subj "/CN=$2" -out $1.csr; }
sign() {
  openssl ca -config $C -batch -notext -in $2.csr -cert $3.pem \
    -keyfile $3.key -extensions $4 $LONG -out $1.pem; }
selfsign() {
  openssl ca -config $C -batch -notext -selfsign -in $2.csr \
    -keyfile $2.key -extensions $3 $LONG -out $1.pem; }
for k in pl-root pl-ca1 pl-ca2 pl-leaf pl-leaf1 nc-root nc-int nc-leaf \
         nc-bad nc-root2 nc-int2 nc-leaf2; do key $k; done
# path length: pl-root -> pl-ca1 (pathlen 0) -> pl-ca2 -> pl-leaf,
# and pl-root -> pl-ca1 -> pl-leaf1 (within the constraint)
csr pl-root "mxclient pathlen root"
csr pl-ca1 "mxclient pathlen 0 CA"
csr pl-ca2 "mxclient CA below a pathlen 0 CA"
csr pl-leaf "mx1.example.net"
csr pl-leaf1 "mx1.example.net"
selfsign pl-root pl-root v3_ca
sign pl-ca1 pl-ca1 pl-root v3_ca_pathlen0
sign pl-ca2 pl-ca2 pl-ca1 v3_ca
sign pl-leaf pl-leaf pl-ca2 v3_leaf
sign pl-leaf1 pl-leaf1 pl-ca1 v3_leaf
# name constraints (permitted DNS:example.net) on the root: the
# intermediate's CN is no DNS name and must not be held against it
csr nc-root "mxclient name-constrained root"
csr nc-int "mxclient intermediate under a name-constrained root"
csr nc-leaf "Mail server one"
csr nc-bad "mx1.example.org"
selfsign nc-root nc-root v3_ca_nc
sign nc-int nc-int nc-root v3_ca
sign nc-leaf nc-leaf nc-int v3_leaf
sign nc-bad nc-bad nc-int v3_leaf_org
# name constraints on the intermediate itself, its CN no DNS name
csr nc-root2 "mxclient root above a name-constrained CA"
csr nc-int2 "mxclient name-constrained intermediate"
csr nc-leaf2 "Mail server two"
selfsign nc-root2 nc-root2 v3_ca
sign nc-int2 nc-int2 nc-root2 v3_ca_nc
sign nc-leaf2 nc-leaf2 nc-int2 v3_leaf
rm -f *.key *.csr index.txt* serial* [0-9A-F][0-9A-F].pem
