/* tools/gen/gen_darknet.h — `backscope-gen darknet`: the synthetic darknet
 * capture of the darknet labeler benchmark (tools/bench/darknet_bench.sh).
 *
 * Single-threaded; called from backscope-gen's main(). */
#pragma once

/** Run the darknet mode: @argv[0] is "darknet", the options follow.
 *  Returns the process exit status (0 ok, 1 failure, 2 usage). */
int gen_darknet_main(int argc, char **argv);
