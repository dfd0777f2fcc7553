# Warning set shared by every target (see docs/CONVENTIONS in the design notes).
set(BSC_WARNINGS
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
	-Wold-style-definition -Wformat=2 -Wpointer-arith -Wvla -Wundef
	-Wwrite-strings -Werror=implicit-function-declaration
	-Werror=incompatible-pointer-types)
