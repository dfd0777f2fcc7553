/* common/version.h — product name and version shown by every binary. */
#pragma once
#define BSC_PRODUCT "backscope"
#define BSC_VERSION "0.1.0"
