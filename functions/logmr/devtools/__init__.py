"""Tools for developers, never in the Lambda asset (``infra`` excludes this
package): the synthetic log generator behind ``logmr generate``."""
