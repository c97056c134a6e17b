/* placeholder until the module lands */
#include "mxclient.h"
