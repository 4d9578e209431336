-- A snax service the console's `snax` command starts.
function response.echo(...)
	return ...
end
