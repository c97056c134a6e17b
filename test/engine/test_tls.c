/* placeholder */
#include "harness.h"
int main(int argc, char **argv)
{
	return scenario_main(argc, argv, NULL, 0);
}
