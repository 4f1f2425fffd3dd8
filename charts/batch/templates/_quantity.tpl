{{/*
A Kubernetes quantity as a plain number (float), for comparisons.
Understands the suffixes m (milli), k M G T P E (powers of 1000) and
Ki Mi Gi Ti Pi Ei (powers of 1024); a bare number is taken as is.
Fails, naming the value, on anything else (e.g. "4GB").
Usage: {{ include "batch.quantity" (dict "value" .Values.job.memory "key" "job.memory") | float64 }}
*/}}
{{- define "batch.quantity" -}}
{{- $text := toString .value | trim -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text -}}
{{- $suffix := trimPrefix $number $text -}}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- if or (not $number) (not (hasKey $factors $suffix)) -}}
{{- fail (printf "%s: %q is not a Kubernetes quantity; write e.g. \"500m\", \"2\", \"512Mi\" or \"4Gi\"" .key $text) -}}
{{- end -}}
{{- mulf (float64 $number) (index $factors $suffix) -}}
{{- end }}
